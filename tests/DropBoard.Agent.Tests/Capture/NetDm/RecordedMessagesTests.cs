using DropBoard.Agent.Netlink;
using System.Buffers.Binary;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Capture.NetDm;

/// <summary>The NET_DM parsers on messages a real 6.1 kernel sent (no VM needed).</summary>
public sealed class RecordedMessagesTests
{
    [Fact]
    public void The_controller_reply_names_the_family_its_version_and_the_events_group()
    {
        var family = RecordedNetDm.Family(RecordedNetDm.Summary);

        Assert.Equal("NET_DM", family.Name);
        Assert.Equal(2u, family.Version);
        Assert.True(family.MulticastGroups.ContainsKey("events"));
        // Every alert of the recording is addressed with the id the controller gave.
        var packetFamily = RecordedNetDm.FamilyId(RecordedNetDm.Packet);
        Assert.All(RecordedNetDm.Events(RecordedNetDm.Packet), e => Assert.Equal(packetFamily, BinaryPrimitives.ReadUInt16LittleEndian(e.AsSpan(4))));
    }

    [Fact]
    public void The_lookup_before_modprobe_is_an_ENOENT_and_every_command_after_it_is_acknowledged()
    {
        var errors = new List<int>();
        var requests = 0;
        foreach (var (kind, bytes) in RecordedNetDm.Read(RecordedNetDm.Summary))
        {
            if (kind == "request") requests++;
            if (kind != "reply") continue;
            foreach (var message in new NetlinkDatagram(bytes))
                if (message.Type == NetlinkProtocol.NLMSG_ERROR) errors.Add(message.Error().Errno);
        }
        Assert.Equal(2, errors[0]);
        Assert.All(errors.Skip(1), e => Assert.Equal(0, e));
        // One answer per request: the failed lookup, then the lookup, CONFIG, START and STOP acknowledged.
        Assert.Equal(5, requests);
        Assert.Equal(requests, errors.Count);
    }

    [Fact]
    public void A_summary_alert_gives_the_kernel_counts_per_site_equal_to_RcvbufErrors()
    {
        var (aggregator, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Summary);
        foreach (var e in RecordedNetDm.Events(RecordedNetDm.Summary)) decoder.Decode(e);
        aggregator.Commit();
        var sites = aggregator.Flush().GroupBy(b => b.Site).ToDictionary(g => g.Key, g => g.Sum(b => b.Count));

        Assert.Equal(0, decoder.CorruptMessages);
        var rcvbufErrors = RecordedNetDm.RcvbufErrors(RecordedNetDm.Summary);
        Assert.Equal(rcvbufErrors, sites["udp_queue_rcv_one_skb+0x40b"]);
        // The datagrams that fitted in the queue, freed when the flood's socket closed.
        Assert.Equal(RecordedNetDm.Datagrams - rcvbufErrors, sites["udp_destruct_common+0xb7"]);
        Assert.Equal(2, sites.Count);
    }

    [Fact]
    public async Task Both_recordings_decode_per_site_to_what_a_python_struct_decode_finds_with_the_kernels_own_symbols()
    {
        Privileged.RequireCommand("python3", "python3");
        // Fixtures/netdm/decode-netdm.py: its own netlink walk; it fails when a program counter of either recording
        // resolves in the excerpt to anything but the kernel's own %pS of it (packet alerts carry one).
        var (code, stdout, stderr) = await Task.Run(() => Commands.TryRun("python3", Fixture.Path("netdm", "decode-netdm.py"),
            Fixture.Path("netdm", "kallsyms-excerpt.txt"), Fixture.Path("netdm", RecordedNetDm.Summary), Fixture.Path("netdm", RecordedNetDm.Packet)));
        Assert.True(code == 0, stderr);
        var python = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
            .ToDictionary(p => $"{p[0]} {p[1]} {p[2]}", p => long.Parse(p[3]));

        var ours = new Dictionary<string, long>();
        foreach (var name in new[] { RecordedNetDm.Summary, RecordedNetDm.Packet })
        {
            var (aggregator, decoder, _) = RecordedNetDm.Decoder(name);
            foreach (var e in RecordedNetDm.Events(name)) decoder.Decode(e);
            aggregator.Commit();
            foreach (var b in aggregator.Flush())
                ours[$"{name} {b.Site} {b.Reason ?? "-"}"] = ours.GetValueOrDefault($"{name} {b.Site} {b.Reason ?? "-"}") + b.Count;
        }
        Assert.Equal(python.OrderBy(s => s.Key, StringComparer.Ordinal), ours.OrderBy(s => s.Key, StringComparer.Ordinal));
        // And the kernel's counter agrees with both at the receive-queue site.
        Assert.Equal(RecordedNetDm.RcvbufErrors(RecordedNetDm.Summary), python[$"{RecordedNetDm.Summary} udp_queue_rcv_one_skb+0x40b -"]);
        Assert.Equal(RecordedNetDm.RcvbufErrors(RecordedNetDm.Packet), python[$"{RecordedNetDm.Packet} udp_queue_rcv_one_skb+0x40b SOCKET_RCVBUFF"]);
    }

    [Fact]
    public void A_summary_alert_with_the_short_nlmsg_len_of_old_kernels_still_gives_every_point()
    {
        var alert = RecordedNetDm.Events(RecordedNetDm.Summary).Single();
        // RHEL 7's 3.10 never updated nlmsg_len as points were added: header, genl header, attribute header, entry count.
        BinaryPrimitives.WriteUInt32LittleEndian(alert, 16 + 4 + 4 + 4);
        var (aggregator, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Summary);
        decoder.Decode(alert);
        aggregator.Commit();

        Assert.Equal(RecordedNetDm.Datagrams, aggregator.Flush().Sum(b => b.Count));
    }

    [Fact]
    public void A_summary_alert_cut_short_counts_its_whole_points_and_says_what_was_missing()
    {
        var alert = RecordedNetDm.Events(RecordedNetDm.Summary).Single();
        var cut = alert.AsSpan(0, alert.Length - 12).ToArray(); // the second drop point is gone
        BinaryPrimitives.WriteUInt32LittleEndian(cut, (uint)cut.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(cut.AsSpan(20), (ushort)(cut.Length - 20));
        var (aggregator, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Summary);
        decoder.Decode(cut);
        aggregator.Commit();

        Assert.Single(aggregator.Flush());
        Assert.Equal(1, decoder.CorruptMessages);
        Assert.Contains("claims 2 drop points, 1 fit", decoder.LastError);
    }

    [Fact]
    public void Packet_alerts_give_one_drop_each_with_reason_protocol_time_port_and_headers()
    {
        var (aggregator, decoder, samples) = RecordedNetDm.Decoder(RecordedNetDm.Packet);
        foreach (var e in RecordedNetDm.Events(RecordedNetDm.Packet)) decoder.Decode(e);
        aggregator.Commit();
        var buckets = aggregator.Flush();

        Assert.Equal(0, decoder.CorruptMessages);
        var rcvbufErrors = RecordedNetDm.RcvbufErrors(RecordedNetDm.Packet);
        Assert.Equal(rcvbufErrors, buckets.Where(b => b.Reason == "SOCKET_RCVBUFF").Sum(b => b.Count));
        Assert.All(buckets.Where(b => b.Reason == "SOCKET_RCVBUFF"), b => Assert.Equal("udp_queue_rcv_one_skb+0x40b", b.Site));
        Assert.Equal(RecordedNetDm.Datagrams - rcvbufErrors, buckets.Where(b => b.Reason == "NOT_SPECIFIED").Sum(b => b.Count));
        Assert.All(buckets, b => Assert.Equal(0x0800, b.Protocol));

        Assert.Equal(RecordedNetDm.Datagrams, samples.Samples.Count);
        var first = samples.Samples[0];
        Assert.Equal("udp_queue_rcv_one_skb+0x40b", first.Site); // the kernel's own %pS, without the function size
        Assert.Equal("udp_queue_rcv_one_skb", first.Function);
        Assert.Equal("ifindex 1", first.InPort);
        Assert.Equal(132, first.OriginalLength); // Ethernet 14 + IP 118
        Assert.Equal(128, first.Header!.Length); // truncated as configured
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(first.Header.AsSpan(12)));
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(first.Header.AsSpan(14 + 20 + 2)));
        // The kernel stamps the drop with the wall clock: the day the recording's header names.
        Assert.Equal(RecordedNetDm.RecordedOn(RecordedNetDm.Packet), DateOnly.FromDateTime(DateTime.UnixEpoch.AddTicks(first.TimestampNs / 100)));
        Assert.True(samples.Samples.Zip(samples.Samples.Skip(1)).All(p => p.First.TimestampNs <= p.Second.TimestampNs));
    }

    [Fact]
    public void Malformed_messages_between_real_ones_are_counted_and_described_and_cost_no_real_drop()
    {
        var (aggregator, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Packet);
        var events = RecordedNetDm.Events(RecordedNetDm.Packet).ToList();
        foreach (var e in events)
        {
            decoder.Decode(e);
            decoder.Decode(e.AsSpan(0, e.Length / 2)); // a truncated copy: its nlmsg_len claims more than arrived
        }
        var noPc = events[0].ToArray();
        noPc[20 + 8 + 2] = 99; // the PC attribute (after ORIGIN) turned into an unknown type
        decoder.Decode(noPc);
        aggregator.Commit();

        Assert.Equal(RecordedNetDm.Datagrams, aggregator.Flush().Sum(b => b.Count));
        Assert.Equal(301, decoder.CorruptMessages);
        Assert.Equal("malformed NET_DM message: a packet alert without a program counter", decoder.LastError);
    }

    [Fact]
    public void Statistics_replies_say_how_many_packets_the_kernel_queue_dropped()
    {
        var familyId = RecordedNetDm.FamilyId(RecordedNetDm.Packet);
        var stats = new List<(ulong, ulong)>();
        foreach (var (kind, bytes) in RecordedNetDm.Read(RecordedNetDm.Packet))
            foreach (var message in new NetlinkDatagram(bytes))
                if (kind == "reply" && message.Type == familyId && message.GenlCommand == NetDmProtocol.CMD_STATS_NEW)
                    stats.Add(NetDmAlerts.ParseStats(message));
        Assert.True(stats.Count >= 2);
        Assert.All(stats, s => Assert.Equal((0ul, 0ul), s)); // 300 packets fit the 10,000-packet queue
    }

    [Fact]
    public async Task The_pcapng_file_of_the_recorded_drops_reads_in_tshark_with_site_and_reason_per_packet()
    {
        Privileged.RequireCommand("tshark", "tshark");
        var path = Path.Combine(Path.GetTempPath(), $"dropboard-netdm-{Guid.NewGuid():n}.pcapng");
        try
        {
            using (var pcap = PcapngWriter.Create(path, 128))
            {
                var (_, decoder, _) = RecordedNetDm.Decoder(RecordedNetDm.Packet, pcap);
                foreach (var e in RecordedNetDm.Events(RecordedNetDm.Packet)) decoder.Decode(e);
            }
            var (code, stdout, stderr) = await Task.Run(() => Commands.TryRun("tshark", "-r", path, "-T", "fields", "-e", "frame.comment", "-e", "udp.dstport", "-e", "frame.len"));
            Assert.True(code == 0, stderr);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(RecordedNetDm.Datagrams, lines.Length);
            Assert.Equal(RecordedNetDm.RcvbufErrors(RecordedNetDm.Packet), lines.Count(l => l.StartsWith("dropped at udp_queue_rcv_one_skb+0x40b, reason SOCKET_RCVBUFF, in ifindex 1\t5000\t132", StringComparison.Ordinal)));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
