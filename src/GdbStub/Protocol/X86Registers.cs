using System.Globalization;
using System.Text;

namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// The x86-64 registers this stub offers gdb and the target.xml describing them. The core, sse and
/// segments features copy gdb's own gdb/features/i386/64bit-{core,sse,segments}.xml, so gdb's amd64
/// code recognises every register it expects by name; control registers follow in a feature of
/// our own, which gdb shows as extra registers in the "system" group.
/// See https://sourceware.org/gdb/current/onlinedocs/gdb.html/i386-Features.html
/// </summary>
public static class X86Registers
{
    public const string CoreFeature = "org.gnu.gdb.i386.core";
    public const string SseFeature = "org.gnu.gdb.i386.sse";
    public const string SegmentsFeature = "org.gnu.gdb.i386.segments";
    public const string SystemFeature = "org.vmreplay.x86.system";

    public static IReadOnlyList<RegisterInfo> All { get; } = Build();

    /// <summary>Bytes in a g packet: every register, in order.</summary>
    public static int GPacketSize { get; } = All.Sum(r => r.ByteSize);

    /// <summary>The register named <paramref name="name"/>, or null.</summary>
    public static RegisterInfo? Find(string name) => All.FirstOrDefault(r => r.Name == name);

    /// <summary>
    /// The g reply: each value little-endian and exactly as long as its register, in register
    /// order. A wrong count or size is the caller's bug.
    /// </summary>
    public static string EncodeRegisters(IReadOnlyList<byte[]> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count != All.Count)
            throw new ArgumentException($"expected {All.Count} register values, got {values.Count}", nameof(values));
        var data = new byte[GPacketSize];
        var offset = 0;
        for (var i = 0; i < All.Count; i++)
        {
            var register = All[i];
            var value = values[i] ?? throw new ArgumentException($"no value for {register.Name}", nameof(values));
            if (value.Length != register.ByteSize)
                throw new ArgumentException($"{register.Name} takes {register.ByteSize} bytes, got {value.Length}", nameof(values));
            value.CopyTo(data, offset);
            offset += value.Length;
        }
        return Hex.Encode(data);
    }

    /// <summary>Splits the data of a G packet into one value per register; false if its length is not <see cref="GPacketSize"/>.</summary>
    public static bool TrySplitRegisters(ReadOnlySpan<byte> data, out byte[][] values)
    {
        values = [];
        if (data.Length != GPacketSize)
            return false;
        var split = new byte[All.Count][];
        var offset = 0;
        for (var i = 0; i < All.Count; i++)
        {
            split[i] = data.Slice(offset, All[i].ByteSize).ToArray();
            offset += All[i].ByteSize;
        }
        values = split;
        return true;
    }

    /// <summary>The whole target description in one document (no xi:include), served through qXfer:features:read:target.xml.</summary>
    public static string TargetXml() => TargetXmlText.Value;

    private static readonly Lazy<string> TargetXmlText = new(BuildTargetXml);

    private static List<RegisterInfo> Build()
    {
        var registers = new List<RegisterInfo>();
        void Add(string name, int bits, string type, string feature, string group = "") =>
            registers.Add(new RegisterInfo(registers.Count, name, bits, type, group, feature));

        foreach (var name in new[] { "rax", "rbx", "rcx", "rdx", "rsi", "rdi" })
            Add(name, 64, "int64", CoreFeature);
        Add("rbp", 64, "data_ptr", CoreFeature);
        Add("rsp", 64, "data_ptr", CoreFeature);
        for (var i = 8; i <= 15; i++)
            Add($"r{i}", 64, "int64", CoreFeature);
        Add("rip", 64, "code_ptr", CoreFeature);
        Add("eflags", 32, "i386_eflags", CoreFeature);
        foreach (var name in new[] { "cs", "ss", "ds", "es", "fs", "gs" })
            Add(name, 32, "int32", CoreFeature);
        for (var i = 0; i < 8; i++)
            Add($"st{i}", 80, "i387_ext", CoreFeature);
        foreach (var name in new[] { "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop" })
            Add(name, 32, "int", CoreFeature, "float");

        for (var i = 0; i < 16; i++)
            Add($"xmm{i}", 128, "vec128", SseFeature);
        Add("mxcsr", 32, "i386_mxcsr", SseFeature, "vector");

        Add("fs_base", 64, "int", SegmentsFeature);
        Add("gs_base", 64, "int", SegmentsFeature);

        foreach (var name in new[] { "cr0", "cr2", "cr3", "cr4", "cr8", "efer" })
            Add(name, 64, "int", SystemFeature, "system");
        return registers;
    }

    private static string BuildTargetXml()
    {
        var xml = new StringBuilder();
        xml.Append("<?xml version=\"1.0\"?>\n");
        xml.Append("<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n");
        xml.Append("<target version=\"1.0\">\n");
        xml.Append("  <architecture>i386:x86-64</architecture>\n");
        foreach (var feature in All.GroupBy(r => r.Feature))
        {
            xml.Append(CultureInfo.InvariantCulture, $"  <feature name=\"{feature.Key}\">\n");
            xml.Append(TypesOf(feature.Key));
            foreach (var r in feature)
            {
                xml.Append(CultureInfo.InvariantCulture,
                    $"    <reg name=\"{r.Name}\" bitsize=\"{r.BitSize}\" type=\"{r.Type}\" regnum=\"{r.Number}\"");
                if (r.Group.Length > 0)
                    xml.Append(CultureInfo.InvariantCulture, $" group=\"{r.Group}\"");
                xml.Append("/>\n");
            }
            xml.Append("  </feature>\n");
        }
        xml.Append("</target>\n");
        return xml.ToString();
    }

    // The type definitions of 64bit-core.xml and 64bit-sse.xml, field for field.
    private static string TypesOf(string feature) => feature switch
    {
        CoreFeature => """
                <flags id="i386_eflags" size="4">
                  <field name="CF" start="0" end="0"/>
                  <field name="" start="1" end="1"/>
                  <field name="PF" start="2" end="2"/>
                  <field name="AF" start="4" end="4"/>
                  <field name="ZF" start="6" end="6"/>
                  <field name="SF" start="7" end="7"/>
                  <field name="TF" start="8" end="8"/>
                  <field name="IF" start="9" end="9"/>
                  <field name="DF" start="10" end="10"/>
                  <field name="OF" start="11" end="11"/>
                  <field name="NT" start="14" end="14"/>
                  <field name="RF" start="16" end="16"/>
                  <field name="VM" start="17" end="17"/>
                  <field name="AC" start="18" end="18"/>
                  <field name="VIF" start="19" end="19"/>
                  <field name="VIP" start="20" end="20"/>
                  <field name="ID" start="21" end="21"/>
                </flags>

            """,
        SseFeature => """
                <vector id="v8bf16" type="bfloat16" count="8"/>
                <vector id="v8h" type="ieee_half" count="8"/>
                <vector id="v4f" type="ieee_single" count="4"/>
                <vector id="v2d" type="ieee_double" count="2"/>
                <vector id="v16i8" type="int8" count="16"/>
                <vector id="v8i16" type="int16" count="8"/>
                <vector id="v4i32" type="int32" count="4"/>
                <vector id="v2i64" type="int64" count="2"/>
                <union id="vec128">
                  <field name="v8_bfloat16" type="v8bf16"/>
                  <field name="v8_half" type="v8h"/>
                  <field name="v4_float" type="v4f"/>
                  <field name="v2_double" type="v2d"/>
                  <field name="v16_int8" type="v16i8"/>
                  <field name="v8_int16" type="v8i16"/>
                  <field name="v4_int32" type="v4i32"/>
                  <field name="v2_int64" type="v2i64"/>
                  <field name="uint128" type="uint128"/>
                </union>
                <flags id="i386_mxcsr" size="4">
                  <field name="IE" start="0" end="0"/>
                  <field name="DE" start="1" end="1"/>
                  <field name="ZE" start="2" end="2"/>
                  <field name="OE" start="3" end="3"/>
                  <field name="UE" start="4" end="4"/>
                  <field name="PE" start="5" end="5"/>
                  <field name="DAZ" start="6" end="6"/>
                  <field name="IM" start="7" end="7"/>
                  <field name="DM" start="8" end="8"/>
                  <field name="ZM" start="9" end="9"/>
                  <field name="OM" start="10" end="10"/>
                  <field name="UM" start="11" end="11"/>
                  <field name="PM" start="12" end="12"/>
                  <field name="FZ" start="15" end="15"/>
                </flags>

            """,
        _ => "",
    };
}
