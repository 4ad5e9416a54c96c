using VmReplay.Engine.Vm;

namespace VmReplay.GdbStub.Target;

/// <summary>
/// A stopped vCPU's state as the values of <see cref="Protocol.X86Registers.All"/>, in order: the
/// general registers, eflags, selectors, x87 and SSE from the (canonical) XSAVE area's legacy
/// region, fs_base/gs_base, control registers and EFER.
/// </summary>
public static class X86RegisterFile
{
    public static unsafe IReadOnlyList<byte[]> From(VcpuState s)
    {
        var r = s.Regs;
        var values = new List<byte[]>(65);
        foreach (ulong v in new[] { r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rbp, r.Rsp, r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.Rip })
            values.Add(BitConverter.GetBytes(v));
        values.Add(BitConverter.GetBytes((uint)r.Rflags));
        var sr = s.Sregs;
        foreach (ushort sel in new[] { sr.Cs.Selector, sr.Ss.Selector, sr.Ds.Selector, sr.Es.Selector, sr.Fs.Selector, sr.Gs.Selector })
            values.Add(BitConverter.GetBytes((uint)sel));

        var x = s.Xsave;
        var fx = new ReadOnlySpan<byte>(x.Region, 512).ToArray();
        for (int i = 0; i < 8; i++) values.Add(fx.AsSpan(32 + i * 16, 10).ToArray());
        ushort fcw = BitConverter.ToUInt16(fx, 0), fsw = BitConverter.ToUInt16(fx, 2), fop = BitConverter.ToUInt16(fx, 6);
        byte abridged = fx[4];
        // gdb wants the full tag word; FXSAVE keeps one "not empty" bit per register.
        uint ftag = 0;
        for (int i = 0; i < 8; i++) ftag |= ((abridged >> i & 1) != 0 ? 0u : 3u) << (2 * i);
        ulong fip = BitConverter.ToUInt64(fx, 8), fdp = BitConverter.ToUInt64(fx, 16);
        foreach (uint v in new[] { fcw, fsw, ftag, (uint)(fip >> 32) & 0xFFFF, (uint)fip, (uint)(fdp >> 32) & 0xFFFF, (uint)fdp, fop })
            values.Add(BitConverter.GetBytes(v));
        for (int i = 0; i < 16; i++) values.Add(fx.AsSpan(160 + i * 16, 16).ToArray());
        values.Add(fx.AsSpan(24, 4).ToArray());
        values.Add(BitConverter.GetBytes(sr.Fs.Base));
        values.Add(BitConverter.GetBytes(sr.Gs.Base));
        foreach (ulong v in new[] { sr.Cr0, sr.Cr2, sr.Cr3, sr.Cr4, sr.Cr8, sr.Efer })
            values.Add(BitConverter.GetBytes(v));
        return values;
    }
}
