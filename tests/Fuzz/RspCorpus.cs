using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.Fuzz;

/// <summary>
/// Byte streams a gdb client sends, for tests/Fuzz/Corpus/rsp: a whole session as gdb drives it,
/// the packets the stub answers, and the findings (a '$' in a checksum digit's place,
/// zero-length reads, a packet over the size limit, requests sent without reading replies).
/// </summary>
public static class RspCorpus
{
    public static IReadOnlyList<(string Name, byte[] Bytes)> All() =>
    [
        ("session", Stream(
            "+", P("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+"),
            "+", P("vMustReplyEmpty"), "+", P("QStartNoAckMode"), "+", P("Hg0"), P("qXfer:features:read:target.xml:0,ffb"),
            P("qXfer:features:read:target.xml:ffb,ffb"), P("qTStatus"), P("?"), P("qfThreadInfo"), P("qsThreadInfo"), P("qAttached"),
            P("Hc-1"), P("qC"), P("g"), P("m1000,40"), P("p10"), P("Z1,1000,1"), P("vCont?"), P("vCont;c:p1.-1"), P("z1,1000,1"),
            P("Z2,1010,4"), P("bc"), P("bs"), P("s"), P("c"), "\u0003", P("vCont;s:1"), P("qRcmd," + Hex.Encode("when"u8)), P("T1"), P("D"))),
        ("memory-and-registers", Stream(P("m0,1"), P("m1000,4"), P("m1fff,8"), P("mffffffffffffffff,10"), P("M1000,2:abcd"),
            P("X1000,2:" + "\u007d\u0003\u0004"), P("G" + new string('0', 64)), P("P10=0000000000000000"), P("p0"), P("pffff"))),
        ("run-length-and-escapes", Concat(PacketEncoder.Encode(Encoding.Latin1.GetBytes("m1000," + new string('0', 70) + "4"), runLength: true),
            Encoding.ASCII.GetBytes("$m1000,4}#00"), PacketEncoder.Encode(Encoding.Latin1.GetBytes("X1000,4:#$}*")))),
        ("acks-nacks-and-noise", Stream("+-+\u0003junk", P("?"), "--", "#12$", P("g"), "\u0000\u00ff")),
        ("finding-dollar-in-checksum", Encoding.ASCII.GetBytes("$m1000,4#$g#67")),
        ("finding-zero-length-reads", Stream(P("m1000,0"), P("qXfer:features:read:target.xml:0,0"), P("qXfer:features:read:target.xml:10,0"))),
        ("finding-oversized-packet", Stream("$" + new string('a', 20000) + "#00", P("g"))),
        ("finding-requests-without-reading", Concat(Enumerable.Repeat(PacketEncoder.Encode(Encoding.Latin1.GetBytes("m1000,4")), 4096).ToArray())),
    ];

    private static string P(string payload) => Encoding.Latin1.GetString(PacketEncoder.Encode(Encoding.Latin1.GetBytes(payload)));

    private static byte[] Stream(params string[] parts) => Encoding.Latin1.GetBytes(string.Concat(parts));

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
