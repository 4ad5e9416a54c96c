using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The protection queries LAR, LSL, VERR and VERW, and ARPL (SDM vol. 2A/2B). The queries never
/// fault for a selector they cannot use: they clear ZF (a null selector, one beyond its table, a
/// descriptor type they do not accept, or one the CPL and RPL may not see). Only a fault reading
/// the descriptor table itself is raised. All of them raise #UD in real mode; ARPL is MOVSXD in
/// 64-bit mode and is not registered there by Iced's decoding.
/// </summary>
internal static unsafe class Protection
{
    public static void Register(HandlerTable t)
    {
        t.Add([Code.Lar_r16_rm16, Code.Lar_r32_r32m16, Code.Lar_r64_r64m16], &Lar);
        t.Add([Code.Lsl_r16_rm16, Code.Lsl_r32_r32m16, Code.Lsl_r64_r64m16], &Lsl);
        t.Add([Code.Verr_rm16, Code.Verr_r32m16, Code.Verr_r64m16], &Verr);
        t.Add([Code.Verw_rm16, Code.Verw_r32m16, Code.Verw_r64m16], &Verw);
        t.Add([Code.Arpl_rm16_r16, Code.Arpl_r32m16_r32], &Arpl);
    }

    private static void RequireProtectedMode(Processor c)
    {
        if (!c.ProtectedMode) throw Processor.Ud();
    }

    private static void SetZf(Processor c, bool zf) => c.SetFlagsMasked(Processor.FlagZf, zf ? Processor.FlagZf : 0);

    /// <summary>
    /// The descriptor of <paramref name="selector"/> if the CPL and the selector's RPL may see it:
    /// conforming code segments always, everything else only with DPL ≥ CPL and DPL ≥ RPL.
    /// </summary>
    private static SegmentDescriptor? Visible(Processor c, ushort selector)
    {
        if ((selector & 0xFFFC) == 0 || c.TryReadDescriptor(selector) is not { } d) return null;
        if (d.IsConforming) return d;
        return d.Dpl < c.Cpl || d.Dpl < (selector & 3) ? null : d;
    }

    // System descriptor types LAR and LSL accept (SDM "LAR", table 3-61; "LSL", table 3-67): in
    // IA-32e mode only the LDT, the 64-bit TSS and (for LAR) the 64-bit call gate.
    private static bool LarAccepts(Processor c, SegmentDescriptor d) => d.S || ((c.Efer & Processor.EferLma) != 0
        ? d.Type is SegmentDescriptor.Ldt or SegmentDescriptor.AvailableTss32 or SegmentDescriptor.BusyTss32 or SegmentDescriptor.CallGate32
        : d.Type is not (0 or 8 or 0xA or 0xD or SegmentDescriptor.InterruptGate16 or SegmentDescriptor.TrapGate16
            or SegmentDescriptor.InterruptGate32 or SegmentDescriptor.TrapGate32));

    private static bool LslAccepts(Processor c, SegmentDescriptor d) => d.S || ((c.Efer & Processor.EferLma) != 0
        ? d.Type is SegmentDescriptor.Ldt or SegmentDescriptor.AvailableTss32 or SegmentDescriptor.BusyTss32
        : d.Type is SegmentDescriptor.AvailableTss16 or SegmentDescriptor.Ldt or SegmentDescriptor.BusyTss16
            or SegmentDescriptor.AvailableTss32 or SegmentDescriptor.BusyTss32);

    private static bool Lar(Processor c, ref DecodedInstruction d)
    {
        RequireProtectedMode(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 1, 2);
        if (Visible(c, selector) is not { } desc || !LarAccepts(c, desc))
        {
            SetZf(c, false);
            return true;
        }
        uint rights = desc.AccessRights;
        c.WriteReg(d.Reg0, d.Size0, d.Size0 == 2 ? rights & 0xFF00 : rights);
        SetZf(c, true);
        return true;
    }

    private static bool Lsl(Processor c, ref DecodedInstruction d)
    {
        RequireProtectedMode(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 1, 2);
        if (Visible(c, selector) is not { } desc || !LslAccepts(c, desc))
        {
            SetZf(c, false);
            return true;
        }
        c.WriteReg(d.Reg0, d.Size0, desc.Limit);
        SetZf(c, true);
        return true;
    }

    private static bool Verr(Processor c, ref DecodedInstruction d)
    {
        RequireProtectedMode(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 0, 2);
        SetZf(c, Visible(c, selector) is { IsReadable: true });
        return true;
    }

    private static bool Verw(Processor c, ref DecodedInstruction d)
    {
        RequireProtectedMode(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 0, 2);
        SetZf(c, Visible(c, selector) is { IsWritableData: true });
        return true;
    }

    private static bool Arpl(Processor c, ref DecodedInstruction d)
    {
        RequireProtectedMode(c);
        ushort destination = (ushort)c.ReadOperand(ref d, 0, 2);
        int rpl = (int)c.ReadReg(d.Reg1, 2) & 3;
        if ((destination & 3) < rpl)
        {
            ushort adjusted = (ushort)((destination & ~3) | rpl);
            if (d.Kind0 == OperandKind.Register) c.WriteReg(d.Reg0, 2, adjusted);
            else c.Write(c.LinearAddress(ref d), 2, adjusted);
            SetZf(c, true);
        }
        else SetZf(c, false);
        return true;
    }
}
