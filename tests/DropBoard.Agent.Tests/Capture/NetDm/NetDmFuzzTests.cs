using DropBoard.Agent.Netlink;
using System.Buffers.Binary;
using DropBoard.Agent.Capture.NetDm;

namespace DropBoard.Agent.Tests.Capture.NetDm;

/// <summary>
/// Mutations of the recorded real messages (bit flips, cut ends, rewritten length and type fields) through the
/// TLV reader and every parser: the only exception allowed out is <see cref="NetlinkParseException"/>, and the
/// decoder the agent runs lets none out at all.
/// </summary>
public sealed class NetDmFuzzTests
{
    private const int Rounds = 40_000;

    [Fact]
    public void Mutated_real_messages_raise_nothing_but_the_parse_error()
    {
        var corpus = RecordedNetDm.Read(RecordedNetDm.Summary).Concat(RecordedNetDm.Read(RecordedNetDm.Packet)).Select(d => d.Bytes).ToArray();
        var (_, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Packet);
        var random = new Random(20261125);
        var parseErrors = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var message = Mutate(corpus[random.Next(corpus.Length)], random);
            try
            {
                ParseEverything(message);
            }
            catch (NetlinkParseException)
            {
                parseErrors++;
            }
            catch (Exception e)
            {
                Assert.Fail($"round {round}: {e.GetType().Name} escaped for {Convert.ToHexString(message)}: {e}");
            }
            decoder.Decode(message); // must never throw
        }
        // The mutations reach the error paths (and the rest parses): the test exercises both.
        Assert.InRange(parseErrors, Rounds / 20, Rounds - Rounds / 20);
        Assert.True(decoder.CorruptMessages > 0);
    }

    private static void ParseEverything(byte[] datagram)
    {
        foreach (var message in new NetlinkDatagram(datagram))
        {
            if (message.Type == NetlinkProtocol.NLMSG_ERROR)
            {
                message.Error();
                continue;
            }
            if (message.Type == NetlinkProtocol.GENL_ID_CTRL)
            {
                GenlFamily.Parse(message);
                continue;
            }
            // Any other type: try every NET_DM parser on it, as a hostile kernel could send anything.
            NetDmAlerts.ParseSummary(message);
            NetDmAlerts.ParseStats(message);
            var packet = NetDmAlerts.ParsePacket(message);
            _ = packet.Payload.Length + packet.Symbol.Length + packet.Reason.Length;
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToArray();
        switch (random.Next(5))
        {
            case 0:
                for (var i = random.Next(1, 8); i > 0; i--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                return bytes.AsSpan(0, random.Next(bytes.Length)).ToArray();
            case 2:
                // A 16-bit length or type field somewhere in the message (every attribute header is 4-aligned).
                var at = random.Next(bytes.Length / 2) * 2 & ~1;
                if (at + 2 <= bytes.Length) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)random.Next(0, 70_000));
                return bytes;
            case 3:
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)random.Next(0, bytes.Length + 64));
                return bytes;
            default:
                var grown = new byte[bytes.Length + random.Next(1, 64)];
                bytes.CopyTo(grown, 0);
                random.NextBytes(grown.AsSpan(bytes.Length));
                return grown;
        }
    }
}
