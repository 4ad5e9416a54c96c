using System.Globalization;
using System.Text;

namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// The registers a target offers gdb, in remote-number order, and the target.xml describing them
/// (see https://sourceware.org/gdb/current/onlinedocs/gdb.html/Target-Descriptions.html).
/// </summary>
public sealed class RegisterLayout
{
    private readonly Func<string, string> _typesOf;
    private readonly Lazy<string> _targetXml;

    /// <param name="architecture">The BFD architecture name gdb checks against the program's (i386, i386:x86-64).</param>
    /// <param name="registers">Every register, numbered from 0 in order.</param>
    /// <param name="typesOf">The type definitions a feature needs, as target.xml text.</param>
    public RegisterLayout(string architecture, IReadOnlyList<RegisterInfo> registers, Func<string, string> typesOf)
    {
        for (var i = 0; i < registers.Count; i++)
            if (registers[i].Number != i) throw new ArgumentException($"register {registers[i].Name} is numbered {registers[i].Number}, not {i}", nameof(registers));
        Architecture = architecture;
        All = registers;
        GPacketSize = registers.Sum(r => r.ByteSize);
        _typesOf = typesOf;
        _targetXml = new(BuildTargetXml);
    }

    /// <summary>The architecture named in target.xml.</summary>
    public string Architecture { get; }

    public IReadOnlyList<RegisterInfo> All { get; }

    /// <summary>Bytes in a g packet: every register, in order.</summary>
    public int GPacketSize { get; }

    /// <summary>The register named <paramref name="name"/>, or null.</summary>
    public RegisterInfo? Find(string name) => All.FirstOrDefault(r => r.Name == name);

    /// <summary>
    /// The g reply: each value little-endian and exactly as long as its register, in register
    /// order. A wrong count or size is the caller's bug.
    /// </summary>
    public string EncodeRegisters(IReadOnlyList<byte[]> values)
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
    public bool TrySplitRegisters(ReadOnlySpan<byte> data, out byte[][] values)
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
    public string TargetXml() => _targetXml.Value;

    private string BuildTargetXml()
    {
        var xml = new StringBuilder();
        xml.Append("<?xml version=\"1.0\"?>\n");
        xml.Append("<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n");
        xml.Append("<target version=\"1.0\">\n");
        xml.Append(CultureInfo.InvariantCulture, $"  <architecture>{Architecture}</architecture>\n");
        foreach (var feature in All.GroupBy(r => r.Feature))
        {
            xml.Append(CultureInfo.InvariantCulture, $"  <feature name=\"{feature.Key}\">\n");
            xml.Append(_typesOf(feature.Key));
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
}
