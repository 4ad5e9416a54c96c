using VmReplay.Engine.Vm;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Target;

/// <summary>
/// A stopped vCPU's state as the values of a register layout (<see cref="X86Registers.Amd64"/> or
/// <see cref="X86Registers.I386"/>), in order: the general registers, eflags, selectors, x87 and
/// SSE from the (canonical) XSAVE area's legacy region, fs_base/gs_base, control registers and
/// EFER. A 32-bit layout shows the low halves.
/// </summary>
public static class X86RegisterFile
{
    public static IReadOnlyList<byte[]> From(VcpuState s, RegisterLayout layout)
    {
        var values = Values(s);
        return layout.All.Select(r =>
        {
            if (!values.TryGetValue(r.Name, out var v)) throw new ArgumentException($"no vCPU value for register {r.Name}", nameof(layout));
            var bytes = new byte[r.ByteSize];
            v.AsSpan(0, Math.Min(v.Length, bytes.Length)).CopyTo(bytes);
            return bytes;
        }).ToList();
    }

    // Every register either layout names, at its widest.
    private static unsafe Dictionary<string, byte[]> Values(VcpuState s)
    {
        var r = s.Regs;
        var sr = s.Sregs;
        var values = new Dictionary<string, byte[]>();
        void Set(string name, ulong v) => values[name] = BitConverter.GetBytes(v);

        (string Wide, string Narrow, ulong Value)[] general =
        [
            ("rax", "eax", r.Rax), ("rbx", "ebx", r.Rbx), ("rcx", "ecx", r.Rcx), ("rdx", "edx", r.Rdx),
            ("rsi", "esi", r.Rsi), ("rdi", "edi", r.Rdi), ("rbp", "ebp", r.Rbp), ("rsp", "esp", r.Rsp), ("rip", "eip", r.Rip),
        ];
        foreach (var (wide, narrow, v) in general)
        {
            Set(wide, v);
            Set(narrow, v);
        }
        ulong[] high = [r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15];
        for (int i = 0; i < high.Length; i++) Set($"r{i + 8}", high[i]);
        Set("eflags", r.Rflags);
        foreach (var (name, sel) in new[] { ("cs", sr.Cs.Selector), ("ss", sr.Ss.Selector), ("ds", sr.Ds.Selector), ("es", sr.Es.Selector), ("fs", sr.Fs.Selector), ("gs", sr.Gs.Selector) })
            Set(name, sel);

        var x = s.Xsave;
        var fx = new ReadOnlySpan<byte>(x.Region, 512).ToArray();
        for (int i = 0; i < 8; i++) values[$"st{i}"] = fx.AsSpan(32 + i * 16, 10).ToArray();
        ushort fcw = BitConverter.ToUInt16(fx, 0), fsw = BitConverter.ToUInt16(fx, 2), fop = BitConverter.ToUInt16(fx, 6);
        byte abridged = fx[4];
        // gdb wants the full tag word; FXSAVE keeps one "not empty" bit per register.
        uint ftag = 0;
        for (int i = 0; i < 8; i++) ftag |= ((abridged >> i & 1) != 0 ? 0u : 3u) << (2 * i);
        ulong fip = BitConverter.ToUInt64(fx, 8), fdp = BitConverter.ToUInt64(fx, 16);
        Set("fctrl", fcw);
        Set("fstat", fsw);
        Set("ftag", ftag);
        Set("fiseg", (fip >> 32) & 0xFFFF);
        Set("fioff", (uint)fip);
        Set("foseg", (fdp >> 32) & 0xFFFF);
        Set("fooff", (uint)fdp);
        Set("fop", fop);
        for (int i = 0; i < 16; i++) values[$"xmm{i}"] = fx.AsSpan(160 + i * 16, 16).ToArray();
        values["mxcsr"] = fx.AsSpan(24, 4).ToArray();
        Set("fs_base", sr.Fs.Base);
        Set("gs_base", sr.Gs.Base);
        foreach (var (name, v) in new[] { ("cr0", sr.Cr0), ("cr2", sr.Cr2), ("cr3", sr.Cr3), ("cr4", sr.Cr4), ("cr8", sr.Cr8), ("efer", sr.Efer) })
            Set(name, v);
        return values;
    }
}
