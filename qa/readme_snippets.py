from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

client = WSConnection(ConnectionType.CLIENT)
server = WSConnection(ConnectionType.SERVER)

# Bytes that would travel over a socket go straight to the other side here.
server.receive_data(client.send(Request(host="example.com", target="/chat")))
for event in server.events():
    if isinstance(event, Request):
        client.receive_data(server.send(AcceptConnection()))

assert isinstance(next(client.events()), AcceptConnection)
server.receive_data(client.send(TextMessage(data="Hello!")))
print(list(server.events()))  # [TextMessage(data='Hello!', ...)]

import anyio
from wsproto.anyio import open_websocket_url


async def main():
    async with open_websocket_url("ws://127.0.0.1:18090/") as ws:
        await ws.send_message("Hello!")
        print(await ws.get_message())  # Hello!


anyio.run(main)  # on trio: anyio.run(main, backend="trio")

