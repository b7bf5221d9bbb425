/* Optional C accelerator for wsproto: masking (RFC 6455 section 5.3).
 *
 * Built when a C compiler is available; wsproto/_mask.py falls back to the
 * pure-Python implementation otherwise, or when WSPROTO_NO_EXTENSIONS is set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* mask(data, key) -> bytes: data XOR key repeated, key being 4 bytes. */
static PyObject *
speedups_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    PyObject *result;
    const unsigned char *src;
    unsigned char *dst;
    Py_ssize_t n, i = 0;
    uint32_t key32;
    uint64_t key64;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "mask() takes exactly 2 arguments (data, key)");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (key.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask key must be 4 bytes");
        goto fail;
    }
    n = data.len;
    result = PyBytes_FromStringAndSize(NULL, n);
    if (result == NULL) {
        goto fail;
    }
    src = (const unsigned char *)data.buf;
    dst = (unsigned char *)PyBytes_AS_STRING(result);
    memcpy(&key32, key.buf, 4);
    key64 = ((uint64_t)key32 << 32) | key32;
    /* Eight bytes at a time; memcpy keeps unaligned access well-defined and
       compiles to plain loads and stores. */
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= key64;
        memcpy(dst + i, &word, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ ((const unsigned char *)key.buf)[i & 3];
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;

fail:
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return NULL;
}

static PyMethodDef speedups_methods[] = {
    {"mask", (PyCFunction)(void (*)(void))speedups_mask, METH_FASTCALL,
     "mask(data, key) -> bytes\n\nXOR data with the 4-byte key repeated."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "wsproto._speedups", NULL, 0, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
