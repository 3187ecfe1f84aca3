using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Netlink;

/// <summary>The kernel refused a netlink request: its errno and, where the kernel gave one, its extended-ack text.</summary>
public sealed class NetlinkErrorException(string operation, int errno, string? kernelMessage)
    : Exception($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}){(kernelMessage is null ? "" : $": {kernelMessage}")}")
{
    public int Errno { get; } = errno;
    public string? KernelMessage { get; } = kernelMessage;
}

/// <summary>
/// A raw netlink socket through Tmds.LibC: requests with acknowledgements, multicast group membership and
/// receives with a timeout. Every received datagram can be handed to a recorder before it is parsed.
/// </summary>
public sealed unsafe class NetlinkSocket : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint PortId;
        public uint Groups;
    }

    // Tmds.LibC's errno is the last error of a SetLastError P/Invoke, which its socket calls are not: it read 0 after a
    // poll interrupted by the setxid signal of a privilege drop (Privileges), and the capture died on a harmless EINTR.
    private static int errno => Marshal.GetLastSystemError();

    private int _fd;
    private uint _sequence = (uint)Environment.TickCount;
    private readonly byte[] _replyBuffer = new byte[64 * 1024];

    /// <summary>Sees every datagram sent ("request") or received ("reply"/"event"), for recordings.</summary>
    public Action<string, ReadOnlySpan<byte>>? Recorder { get; set; }

    private NetlinkSocket(int fd) => _fd = fd;

    public static NetlinkSocket Open(int protocol)
    {
        var fd = LibC.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
        if (fd < 0) throw new NetlinkErrorException("socket(AF_NETLINK)", errno, null);
        var socket = new NetlinkSocket(fd);
        try
        {
            var address = new SockaddrNl { Family = (ushort)AF_NETLINK };
            if (bind(fd, (sockaddr*)&address, (uint)sizeof(SockaddrNl)) < 0)
                throw new NetlinkErrorException("bind(AF_NETLINK)", errno, null);
            // Error replies carry the kernel's own explanation and do not echo the request.
            socket.SetOption(NetlinkProtocol.NETLINK_EXT_ACK, 1, required: false);
            socket.SetOption(NetlinkProtocol.NETLINK_CAP_ACK, 1, required: false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Join(uint group) => SetOption(NetlinkProtocol.NETLINK_ADD_MEMBERSHIP, (int)group, required: true);

    /// <summary>Room for bursts of messages between receives; as root beyond net.core.rmem_max.</summary>
    public void SetReceiveBuffer(int bytes)
    {
        if (setsockopt(_fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(int)) == 0) return;
        setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(int));
    }

    private void SetOption(int option, int value, bool required)
    {
        if (setsockopt(_fd, SOL_NETLINK, option, &value, sizeof(int)) < 0 && required)
            throw new NetlinkErrorException($"setsockopt(SOL_NETLINK, {option})", errno, null);
    }

    /// <summary>
    /// Sends <paramref name="request"/> (its sequence number is set here) and waits for the kernel's
    /// acknowledgement, or for the end of a dump (NLM_F_DUMP). Returns the reply datagrams that came before it,
    /// including the last one when the kernel put the dump's end behind its last replies.
    /// </summary>
    /// <exception cref="NetlinkErrorException">The kernel answered with an error, or ended the dump with one.</exception>
    public List<byte[]> Transact(string operation, byte[] request, int timeoutMs = 3000)
    {
        var sequence = ++_sequence;
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), sequence);
        Recorder?.Invoke("request", request);
        fixed (byte* p = request)
            if (send(_fd, p, request.Length, 0) < 0)
                throw new NetlinkErrorException(operation, errno, null);

        var replies = new List<byte[]>();
        var deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            var left = (int)Math.Max(0, deadline - Environment.TickCount64);
            var length = Receive(_replyBuffer, left, "reply");
            if (length == 0) throw new TimeoutException($"{operation}: no answer from the kernel within {timeoutMs} ms");
            if (length < 0) continue;
            var datagram = _replyBuffer.AsSpan(0, length);
            var data = false;
            foreach (var message in new NetlinkDatagram(datagram))
            {
                if (message.Sequence != sequence) continue;
                if (message.Type is NetlinkProtocol.NLMSG_ERROR or NetlinkProtocol.NLMSG_DONE)
                {
                    var (error, text) = message.Type == NetlinkProtocol.NLMSG_ERROR ? message.Error() : message.DoneError();
                    if (error != 0) throw new NetlinkErrorException(operation, error, text);
                    if (data) replies.Add(datagram.ToArray());
                    return replies;
                }
                data = true;
            }
            if (data) replies.Add(datagram.ToArray());
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for one datagram. Returns its length, 0 on timeout, or -1 when
    /// the kernel dropped messages because the receive buffer was full (ENOBUFS); the socket stays usable.
    /// </summary>
    public int Receive(Span<byte> buffer, int timeoutMs, string kind = "event")
    {
        var poll = new pollfd { fd = _fd, events = POLLIN };
        var ready = LibC.poll(&poll, 1, timeoutMs);
        if (ready < 0)
        {
            if (errno == EINTR) return 0;
            throw new NetlinkErrorException("poll(netlink)", errno, null);
        }
        if (ready == 0) return 0;
        long length;
        fixed (byte* p = buffer)
            length = recv(_fd, p, buffer.Length, MSG_DONTWAIT);
        if (length < 0)
        {
            var error = errno;
            if (error == ENOBUFS) return -1;
            if (error == EAGAIN || error == EINTR) return 0;
            throw new NetlinkErrorException("recv(netlink)", error, null);
        }
        Recorder?.Invoke(kind, buffer[..(int)length]);
        return (int)length;
    }

    public void Dispose()
    {
        if (_fd >= 0) close(_fd);
        _fd = -1;
    }
}
