using System.Xml.Linq;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class X86RegistersTests
{
    [Fact]
    public void ListsSixtyFiveRegistersNumberedInOrder()
    {
        Assert.Equal(65, X86Registers.Amd64.All.Count);
        for (var i = 0; i < X86Registers.Amd64.All.Count; i++)
            Assert.Equal(i, X86Registers.Amd64.All[i].Number);
    }

    [Theory]
    [InlineData(0, "rax", 64, "int64", X86Registers.CoreFeature)]
    [InlineData(6, "rbp", 64, "data_ptr", X86Registers.CoreFeature)]
    [InlineData(7, "rsp", 64, "data_ptr", X86Registers.CoreFeature)]
    [InlineData(15, "r15", 64, "int64", X86Registers.CoreFeature)]
    [InlineData(16, "rip", 64, "code_ptr", X86Registers.CoreFeature)]
    [InlineData(17, "eflags", 32, "i386_eflags", X86Registers.CoreFeature)]
    [InlineData(18, "cs", 32, "int32", X86Registers.CoreFeature)]
    [InlineData(23, "gs", 32, "int32", X86Registers.CoreFeature)]
    [InlineData(24, "st0", 80, "i387_ext", X86Registers.CoreFeature)]
    [InlineData(31, "st7", 80, "i387_ext", X86Registers.CoreFeature)]
    [InlineData(32, "fctrl", 32, "int", X86Registers.CoreFeature)]
    [InlineData(39, "fop", 32, "int", X86Registers.CoreFeature)]
    [InlineData(40, "xmm0", 128, "vec128", X86Registers.SseFeature)]
    [InlineData(55, "xmm15", 128, "vec128", X86Registers.SseFeature)]
    [InlineData(56, "mxcsr", 32, "i386_mxcsr", X86Registers.SseFeature)]
    [InlineData(57, "fs_base", 64, "int", X86Registers.SegmentsFeature)]
    [InlineData(58, "gs_base", 64, "int", X86Registers.SegmentsFeature)]
    [InlineData(59, "cr0", 64, "int", X86Registers.SystemFeature)]
    [InlineData(60, "cr2", 64, "int", X86Registers.SystemFeature)]
    [InlineData(61, "cr3", 64, "int", X86Registers.SystemFeature)]
    [InlineData(62, "cr4", 64, "int", X86Registers.SystemFeature)]
    [InlineData(63, "cr8", 64, "int", X86Registers.SystemFeature)]
    [InlineData(64, "efer", 64, "int", X86Registers.SystemFeature)]
    public void MatchesGdbsAmd64Layout(int number, string name, int bits, string type, string feature)
    {
        var register = X86Registers.Amd64.All[number];
        Assert.Equal((name, bits, type, feature), (register.Name, register.BitSize, register.Type, register.Feature));
        Assert.Same(register, X86Registers.Amd64.Find(name));
    }

    [Fact]
    public void GPacketSizeIsTheSumOfAllRegisters() =>
        // 16 GPRs + rip: 17*8; eflags + 6 segments: 7*4; st0-7: 8*10; f*: 8*4; xmm: 16*16; mxcsr 4; bases 2*8; system 6*8.
        Assert.Equal(17 * 8 + 7 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 2 * 8 + 6 * 8, X86Registers.Amd64.GPacketSize);

    [Fact]
    public void TargetXmlIsWellFormedAndAgreesWithTheList()
    {
        var document = XDocument.Parse(X86Registers.Amd64.TargetXml());
        var target = document.Root!;
        Assert.Equal("target", target.Name.LocalName);
        Assert.Equal("i386:x86-64", target.Element("architecture")!.Value);
        Assert.DoesNotContain(document.Descendants(), e => e.Name.LocalName == "include");

        var regs = target.Elements("feature")
            .SelectMany(f => f.Elements("reg").Select(r => (Feature: (string)f.Attribute("name")!, Reg: r)))
            .ToList();
        Assert.Equal(65, regs.Count);
        var bits = 0;
        for (var i = 0; i < regs.Count; i++)
        {
            var (feature, reg) = regs[i];
            var expected = X86Registers.Amd64.All[i];
            Assert.Equal(expected.Number, (int)reg.Attribute("regnum")!);
            Assert.Equal(expected.Name, (string)reg.Attribute("name")!);
            Assert.Equal(expected.BitSize, (int)reg.Attribute("bitsize")!);
            Assert.Equal(expected.Type, (string)reg.Attribute("type")!);
            Assert.Equal(expected.Group, (string?)reg.Attribute("group") ?? "");
            Assert.Equal(expected.Feature, feature);
            bits += (int)reg.Attribute("bitsize")!;
        }
        Assert.Equal(X86Registers.Amd64.GPacketSize, bits / 8);
    }

    [Fact]
    public void TargetXmlDefinesEveryNonBuiltinTypeItUses()
    {
        var target = XDocument.Parse(X86Registers.Amd64.TargetXml()).Root!;
        var defined = target.Descendants()
            .Where(e => e.Name.LocalName is "flags" or "union" or "vector" or "struct")
            .Select(e => (string)e.Attribute("id")!)
            .ToHashSet();
        Assert.Superset(new HashSet<string> { "i386_eflags", "i386_mxcsr", "vec128" }, defined);
        var builtins = new HashSet<string>
        {
            "int8", "int16", "int32", "int64", "int128", "uint8", "uint16", "uint32", "uint64", "uint128", "int",
            "code_ptr", "data_ptr", "ieee_half", "ieee_single", "ieee_double", "bfloat16", "i387_ext", "bool",
        };
        foreach (var type in target.Descendants().Select(e => (string?)e.Attribute("type")).OfType<string>())
            Assert.True(builtins.Contains(type) || defined.Contains(type), $"type {type} is neither built in nor defined");
    }

    [Fact]
    public void EncodesRegistersInOrderLittleEndian()
    {
        var values = X86Registers.Amd64.All.Select(r => new byte[r.ByteSize]).ToList();
        values[0] = BitConverter.GetBytes(0x1122334455667788UL);
        values[16] = BitConverter.GetBytes(0xfff0UL);
        var hex = X86Registers.Amd64.EncodeRegisters(values);
        Assert.Equal(X86Registers.Amd64.GPacketSize * 2, hex.Length);
        Assert.StartsWith("8877665544332211", hex);
        Assert.Equal("f0ff000000000000", hex.Substring(16 * 16, 16));

        Assert.True(Hex.TryDecode(hex, out var data));
        Assert.True(X86Registers.Amd64.TrySplitRegisters(data, out var split));
        Assert.Equal(values, split);
    }

    [Fact]
    public void RejectsWrongRegisterValues()
    {
        var values = X86Registers.Amd64.All.Select(r => new byte[r.ByteSize]).ToList();
        Assert.Throws<ArgumentException>(() => X86Registers.Amd64.EncodeRegisters(values.Take(64).ToList()));
        values[17] = new byte[8];
        Assert.Throws<ArgumentException>(() => X86Registers.Amd64.EncodeRegisters(values));
        Assert.False(X86Registers.Amd64.TrySplitRegisters(new byte[X86Registers.Amd64.GPacketSize - 1], out _));
    }

    [Fact]
    public void TheI386LayoutFollowsGdbs32BitFeatures()
    {
        var layout = X86Registers.I386;
        Assert.Equal("i386", layout.Architecture);
        // gdb/features/i386/32bit-core.xml: eax, ecx, edx, ebx, esp, ebp, esi, edi, eip, eflags, selectors.
        Assert.Equal(["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "cs", "ss", "ds", "es", "fs", "gs"],
            layout.All.Take(16).Select(r => r.Name));
        Assert.All(layout.All.Take(16), r => Assert.Equal(32, r.BitSize));
        Assert.Equal("code_ptr", layout.Find("eip")!.Type);
        Assert.Equal("data_ptr", layout.Find("esp")!.Type);
        Assert.Equal(8, layout.All.Count(r => r.Name.StartsWith("xmm")));
        Assert.Null(layout.Find("xmm8"));
        Assert.Null(layout.Find("r8"));
        Assert.Equal(32, layout.Find("fs_base")!.BitSize);
        Assert.Equal(64, layout.Find("efer")!.BitSize);
        // 8 GPRs and eip, eflags, 6 selectors: 16*4; st0-7; f*: 8*4; xmm0-7; mxcsr; bases 2*4; system 6*8.
        Assert.Equal(16 * 4 + 8 * 10 + 8 * 4 + 8 * 16 + 4 + 2 * 4 + 6 * 8, layout.GPacketSize);
        var target = XDocument.Parse(layout.TargetXml()).Root!;
        Assert.Equal("i386", target.Element("architecture")!.Value);
        Assert.Equal(layout.All.Select(r => r.Name), target.Descendants("reg").Select(r => (string)r.Attribute("name")!));
    }

    [Fact]
    public void ALayoutRejectsRegistersOutOfOrder() =>
        Assert.Throws<ArgumentException>(() => new RegisterLayout("i386", [new RegisterInfo(1, "eax", 32, "int32", "", X86Registers.CoreFeature)], _ => ""));
}
