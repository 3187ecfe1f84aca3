# Makes exactly (N - what fits) UDP receive-buffer drops: a socket with the smallest SO_RCVBUF that never
# reads, and N datagrams sent to it on 127.0.0.1. Run inside the network namespace under test.
import socket
import sys
import time

count, port = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5000
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
receiver.bind(("127.0.0.1", port))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(count):
    sender.sendto(b"dropboard" * 10, ("127.0.0.1", port))
time.sleep(0.2)
