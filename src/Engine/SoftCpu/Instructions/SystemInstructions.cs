using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// Instructions that change how the processor runs: HLT, CPUID, RDMSR/WRMSR, RDTSC, LGDT/LIDT/
/// SGDT/SIDT, LLDT/SLDT/LTR/STR, MOV to and from control and debug registers, CLTS, LMSW/SMSW,
/// INVLPG, WBINVD/INVD, CLFLUSH, segment register loads and stores (MOV, PUSH, POP, LDS..LSS),
/// far JMP/CALL/RET, IRET (through the engine's <see cref="IretEmulation"/>), INT n/INT3/INTO/INT1, UD2.
/// Privileged forms raise #GP(0) outside CPL 0.
/// </summary>
internal static unsafe class SystemInstructions
{
    public static void Register(HandlerTable t)
    {
        t.Add(Code.Hlt, &Hlt, endsBlock: true);
        t.Add(Code.Cpuid, &Cpuid);
        t.Add(Code.Rdmsr, &Rdmsr, endsBlock: true);
        t.Add(Code.Wrmsr, &Wrmsr, endsBlock: true);
        t.Add(Code.Rdtsc, &Rdtsc, endsBlock: true);
        t.Add([Code.Lgdt_m1632_16, Code.Lgdt_m1632, Code.Lgdt_m1664], &Lgdt);
        t.Add([Code.Lidt_m1632_16, Code.Lidt_m1632, Code.Lidt_m1664], &Lidt);
        t.Add([Code.Sgdt_m1632_16, Code.Sgdt_m1632, Code.Sgdt_m1664], &Sgdt);
        t.Add([Code.Sidt_m1632_16, Code.Sidt_m1632, Code.Sidt_m1664], &Sidt);
        t.Add([Code.Lldt_rm16, Code.Lldt_r32m16, Code.Lldt_r64m16], &Lldt);
        t.Add([Code.Ltr_rm16, Code.Ltr_r32m16, Code.Ltr_r64m16], &Ltr);
        t.Add([Code.Sldt_rm16, Code.Sldt_r32m16, Code.Sldt_r64m16], &Sldt);
        t.Add([Code.Str_rm16, Code.Str_r32m16, Code.Str_r64m16], &Str);
        t.Add([Code.Mov_r32_cr, Code.Mov_r64_cr], &MovFromCr);
        t.Add([Code.Mov_cr_r32, Code.Mov_cr_r64], &MovToCr, endsBlock: true);
        t.Add([Code.Mov_r32_dr, Code.Mov_r64_dr], &MovFromDr);
        t.Add([Code.Mov_dr_r32, Code.Mov_dr_r64], &MovToDr);
        t.Add(Code.Clts, &Clts);
        t.Add([Code.Smsw_rm16, Code.Smsw_r32m16, Code.Smsw_r64m16], &Smsw);
        t.Add([Code.Lmsw_rm16, Code.Lmsw_r32m16, Code.Lmsw_r64m16], &Lmsw, endsBlock: true);
        t.Add(Code.Invlpg_m, &Invlpg, endsBlock: true);
        t.Add([Code.Wbinvd, Code.Invd], &Privileged);
        t.Add([Code.Clflush_m8], &Nothing);
        t.Add([Code.Mov_rm16_Sreg, Code.Mov_r32m16_Sreg, Code.Mov_r64m16_Sreg], &MovFromSreg);
        t.Add([Code.Mov_Sreg_rm16, Code.Mov_Sreg_r32m16, Code.Mov_Sreg_r64m16], &MovToSreg, endsBlock: true);
        t.Add([Code.Pushw_ES, Code.Pushd_ES, Code.Pushw_CS, Code.Pushd_CS, Code.Pushw_SS, Code.Pushd_SS, Code.Pushw_DS, Code.Pushd_DS,
            Code.Pushw_FS, Code.Pushd_FS, Code.Pushq_FS, Code.Pushw_GS, Code.Pushd_GS, Code.Pushq_GS], &PushSreg);
        t.Add([Code.Popw_ES, Code.Popd_ES, Code.Popw_SS, Code.Popd_SS, Code.Popw_DS, Code.Popd_DS,
            Code.Popw_FS, Code.Popd_FS, Code.Popq_FS, Code.Popw_GS, Code.Popd_GS, Code.Popq_GS], &PopSreg, endsBlock: true);
        t.Add([Code.Lds_r16_m1616, Code.Lds_r32_m1632, Code.Les_r16_m1616, Code.Les_r32_m1632, Code.Lfs_r16_m1616, Code.Lfs_r32_m1632,
            Code.Lfs_r64_m1664, Code.Lgs_r16_m1616, Code.Lgs_r32_m1632, Code.Lgs_r64_m1664, Code.Lss_r16_m1616, Code.Lss_r32_m1632, Code.Lss_r64_m1664],
            &LoadFarPointer, endsBlock: true);
        t.Add([Code.Jmp_ptr1616, Code.Jmp_ptr1632, Code.Jmp_m1616, Code.Jmp_m1632, Code.Jmp_m1664], &JumpFar);
        t.Add([Code.Call_ptr1616, Code.Call_ptr1632, Code.Call_m1616, Code.Call_m1632, Code.Call_m1664], &CallFar);
        t.Add([Code.Retfw, Code.Retfd, Code.Retfq, Code.Retfw_imm16, Code.Retfd_imm16, Code.Retfq_imm16], &ReturnFar);
        t.Add([Code.Iretw, Code.Iretd, Code.Iretq], &Iret);
        t.Add(Code.Int_imm8, &Int);
        t.Add(Code.Int3, &Int3);
        t.Add(Code.Into, &Into);
        t.Add(Code.Int1, &Int1);
        t.Add([Code.Ud0, Code.Ud0_r16_rm16, Code.Ud0_r32_rm32, Code.Ud0_r64_rm64, Code.Ud1_r16_rm16, Code.Ud1_r32_rm32, Code.Ud1_r64_rm64, Code.Ud2], &Ud);
    }

    private static void RequireCpl0(Processor c)
    {
        if (c.ProtectedMode && c.Cpl != 0 || (c.GetRflags() & Processor.FlagVm) != 0) throw Processor.Gp();
    }

    private static bool Nothing(Processor c, ref DecodedInstruction d) => true;

    private static bool Privileged(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        return true;
    }

    private static bool Ud(Processor c, ref DecodedInstruction d) => throw Processor.Ud();

    private static bool Hlt(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        return c.ExitAfter(ref d, ProcessorExitKind.Halt);
    }

    private static bool Cpuid(Processor c, ref DecodedInstruction d)
    {
        var (a, b, cx, dx) = c.Cpuid.Lookup((uint)c.R(Processor.Rax), (uint)c.R(Processor.Rcx));
        c.R(Processor.Rax) = a;
        c.R(Processor.Rbx) = b;
        c.R(Processor.Rcx) = cx;
        c.R(Processor.Rdx) = dx;
        return true;
    }

    // ---- MSRs and the TSC ---------------------------------------------------------------------

    private static bool Rdmsr(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        uint index = (uint)c.R(Processor.Rcx);
        if (c.TryReadOwnMsr(index, out ulong value))
        {
            c.R(Processor.Rax) = (uint)value;
            c.R(Processor.Rdx) = value >> 32;
            return true;
        }
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.MsrRead, index, 8, &CompleteRdmsr);
    }

    private static void CompleteRdmsr(Processor c, ref DecodedInstruction d)
    {
        if (c.Exit.MsrFailed && c.RefusedMsrsFault) throw Processor.Gp();
        ulong value = c.Exit.MsrValue;
        c.R(Processor.Rax) = (uint)value;
        c.R(Processor.Rdx) = value >> 32;
        c.Rip = d.NextIp;
    }

    private static bool Wrmsr(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        uint index = (uint)c.R(Processor.Rcx);
        ulong value = (c.R(Processor.Rdx) << 32) | (uint)c.R(Processor.Rax);
        if (c.TryWriteOwnMsr(index, value)) return true;
        c.Exit.MsrValue = value;
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.MsrWrite, index, 8, &CompleteWrmsr);
    }

    private static void CompleteWrmsr(Processor c, ref DecodedInstruction d)
    {
        if (c.Exit.MsrFailed && c.RefusedMsrsFault) throw Processor.Gp();
        c.Rip = d.NextIp;
    }

    // RDTSC reads the TSC through the VMM, as a read of IA32_TSC: the value comes from the
    // engine clock, so a replay gives back what the recording read.
    private static bool Rdtsc(Processor c, ref DecodedInstruction d)
    {
        if ((c.Cr4 & Processor.Cr4Tsd) != 0 && c.ProtectedMode && c.Cpl != 0) throw Processor.Gp();
        if (!c.TscExits)
        {
            ulong tsc = c.LocalTsc;
            c.R(Processor.Rax) = (uint)tsc;
            c.R(Processor.Rdx) = tsc >> 32;
            return true;
        }
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.MsrRead, 0x10, 8, &CompleteRdmsr);
    }

    // ---- Descriptor tables --------------------------------------------------------------------

    private static bool Lgdt(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        var (limit, @base) = ReadPseudoDescriptor(c, ref d);
        c.Gdtr = new DescriptorTableRegister { Base = @base, Limit = limit };
        return true;
    }

    private static bool Lidt(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        var (limit, @base) = ReadPseudoDescriptor(c, ref d);
        c.Idtr = new DescriptorTableRegister { Base = @base, Limit = limit };
        return true;
    }

    // A 16-bit operand size loads a 24-bit base; 64-bit mode always loads 8 bytes of base.
    private static (ushort Limit, ulong Base) ReadPseudoDescriptor(Processor c, ref DecodedInstruction d)
    {
        ulong la = c.LinearAddress(ref d);
        ushort limit = (ushort)c.Read(la, 2);
        ulong @base = c.Long64 ? c.Read((la + 2) & c.LinearMask, 8) : c.Read((la + 2) & c.LinearMask, 4);
        if (d.I.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16) @base &= 0xFF_FFFF;
        return (limit, @base);
    }

    private static bool Sgdt(Processor c, ref DecodedInstruction d) => StorePseudoDescriptor(c, ref d, c.Gdtr);

    private static bool Sidt(Processor c, ref DecodedInstruction d) => StorePseudoDescriptor(c, ref d, c.Idtr);

    private static bool StorePseudoDescriptor(Processor c, ref DecodedInstruction d, DescriptorTableRegister table)
    {
        ulong la = c.LinearAddress(ref d);
        int baseSize = c.Long64 ? 8 : 4;
        c.ProbeWrite(la, 2 + baseSize);
        c.Write(la, 2, table.Limit);
        c.Write((la + 2) & c.LinearMask, baseSize, table.Base);
        return true;
    }

    private static bool Lldt(Processor c, ref DecodedInstruction d)
    {
        if (!c.ProtectedMode) throw Processor.Ud();
        RequireCpl0(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 0, 2);
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0)
        {
            c.Ldtr = new SegmentRegister { Selector = selector, Unusable = 1 };
            return true;
        }
        if ((selector & 4) != 0) throw Processor.Gp(error);
        var desc = c.ReadDescriptor(selector);
        if (desc.S || desc.Type != SegmentDescriptor.Ldt) throw Processor.Gp(error);
        ulong high = (c.Efer & Processor.EferLma) != 0 ? SystemDescriptorHigh(c, desc, selector) : 0;
        if (!desc.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        var ldt = desc.ToSegmentRegister(selector);
        ldt.Base |= high << 32;
        c.Ldtr = ldt;
        return true;
    }

    private static bool Ltr(Processor c, ref DecodedInstruction d)
    {
        if (!c.ProtectedMode) throw Processor.Ud();
        RequireCpl0(c);
        ushort selector = (ushort)c.ReadOperand(ref d, 0, 2);
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0 || (selector & 4) != 0) throw Processor.Gp(error);
        var desc = c.ReadDescriptor(selector);
        // An available TSS becomes busy: 16- or 32-bit outside IA-32e mode, the 64-bit one (type 9) in it.
        bool ia32e = (c.Efer & Processor.EferLma) != 0;
        bool available = ia32e ? desc.Type == SegmentDescriptor.AvailableTss32
            : desc.Type is SegmentDescriptor.AvailableTss16 or SegmentDescriptor.AvailableTss32;
        if (desc.S || !available) throw Processor.Gp(error);
        ulong high = ia32e ? SystemDescriptorHigh(c, desc, selector) : 0;
        if (!desc.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        var tr = desc.ToSegmentRegister(selector);
        tr.Type = (byte)(desc.Type | 2);
        tr.Base |= high << 32;
        c.WriteSystem(desc.TableAddress + 5, 1, (byte)((desc.Raw >> 40) | 2));
        c.Tr = tr;
        return true;
    }

    /// <summary>
    /// Bits 63:32 of the base of a 16-byte LDT or TSS descriptor in IA-32e mode; #GP(selector)
    /// where the upper half lies beyond the table, has a nonzero type field, or makes the base non-canonical.
    /// </summary>
    private static ulong SystemDescriptorHigh(Processor c, SegmentDescriptor low, ushort selector)
    {
        uint error = (uint)(selector & 0xFFFC);
        ulong high = c.ReadDescriptorHigh(low, selector);
        if (((high >> 40) & 0x1F) != 0 || !PageWalker.IsCanonical48(low.Base | (high & 0xFFFF_FFFF) << 32)) throw Processor.Gp(error);
        return high & 0xFFFF_FFFF;
    }

    private static bool Sldt(Processor c, ref DecodedInstruction d)
    {
        if (!c.ProtectedMode) throw Processor.Ud();
        c.WriteOperand0(ref d, d.Kind0 == OperandKind.Register ? d.Size0 : 2, c.Ldtr.Selector);
        return true;
    }

    private static bool Str(Processor c, ref DecodedInstruction d)
    {
        if (!c.ProtectedMode) throw Processor.Ud();
        c.WriteOperand0(ref d, d.Kind0 == OperandKind.Register ? d.Size0 : 2, c.Tr.Selector);
        return true;
    }

    // ---- Control and debug registers -------------------------------------------------------

    private static int ControlRegister(ref DecodedInstruction d, int operand) =>
        (operand == 0 ? d.I.Op0Register : d.I.Op1Register) - Iced.Intel.Register.CR0;

    private static bool MovFromCr(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        ulong v = ControlRegister(ref d, 1) switch
        {
            0 => c.Cr0,
            2 => c.Cr2,
            3 => c.Cr3,
            4 => c.Cr4,
            8 => c.Cr8,
            _ => throw Processor.Ud(),
        };
        c.WriteReg(d.Reg0, d.Size0, v);
        return true;
    }

    private static bool MovToCr(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        ulong v = c.ReadReg(d.Reg1, d.Size1);
        switch (ControlRegister(ref d, 0))
        {
            case 0: c.WriteCr0(v); break;
            case 2: c.Cr2 = v; break;
            case 3: c.WriteCr3(v); break;
            case 4: c.WriteCr4(v); break;
            case 8:
                if ((v & ~0xFUL) != 0) throw Processor.Gp();
                c.Cr8 = v;
                break;
            default: throw Processor.Ud();
        }
        c.Rip = d.NextIp;
        return false;
    }

    /// <summary>
    /// The debug register an instruction names: DR4 and DR5 are aliases of DR6 and DR7 while
    /// CR4.DE is clear and raise #UD while it is set (SDM vol. 3A, 18.2.2). The CPL check comes first.
    /// </summary>
    private static int DebugRegister(Processor c, Iced.Intel.Register r)
    {
        RequireCpl0(c);
        int n = r - Iced.Intel.Register.DR0;
        if (n is 4 or 5)
        {
            if ((c.Cr4 & Processor.Cr4De) != 0) throw Processor.Ud();
            n += 2;
        }
        return n;
    }

    private static bool MovFromDr(Processor c, ref DecodedInstruction d)
    {
        int n = DebugRegister(c, d.I.Op1Register);
        c.WriteReg(d.Reg0, d.Size0, c.Dr[n]);
        return true;
    }

    private static bool MovToDr(Processor c, ref DecodedInstruction d)
    {
        int n = DebugRegister(c, d.I.Op0Register);
        ulong v = c.ReadReg(d.Reg1, d.Size1);
        // DR6 and DR7 have no bits above 31: setting one is #GP (64-bit mode, where the source is 64 bits).
        if (n >= 6 && (v >> 32) != 0) throw Processor.Gp();
        c.Dr[n] = n switch { 6 => (v & 0xE00F) | 0xFFFF_0FF0, 7 => (v & 0xFFFF_2FFF) | 0x400, _ => v };
        return true;
    }

    private static bool Clts(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        c.Cr0 &= ~Processor.Cr0Ts;
        return true;
    }

    private static bool Smsw(Processor c, ref DecodedInstruction d)
    {
        c.WriteOperand0(ref d, d.Kind0 == OperandKind.Register ? d.Size0 : 2, c.Cr0);
        return true;
    }

    private static bool Lmsw(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        ulong v = c.ReadOperand(ref d, 0, 2);
        // LMSW sets PE but cannot clear it, and changes only MP, EM and TS besides.
        ulong cr0 = (c.Cr0 & ~0xEUL) | (v & 0xF) | (c.Cr0 & Processor.Cr0Pe);
        c.WriteCr0(cr0);
        c.Rip = d.NextIp;
        return false;
    }

    private static bool Invlpg(Processor c, ref DecodedInstruction d)
    {
        RequireCpl0(c);
        c.InvalidatePage(c.LinearAddress(ref d));
        c.Rip = d.NextIp;
        return false;
    }

    // ---- Segment registers ---------------------------------------------------------------------

    private static int SegmentOf(Iced.Intel.Register r) => r - Iced.Intel.Register.ES;

    private static bool MovFromSreg(Processor c, ref DecodedInstruction d)
    {
        ushort sel = c.Seg[SegmentOf(d.I.Op1Register)].Selector;
        // To a register: zero-extended to the operand size; to memory: 16 bits.
        c.WriteOperand0(ref d, d.Kind0 == OperandKind.Register ? d.Size0 : 2, sel);
        return true;
    }

    private static bool MovToSreg(Processor c, ref DecodedInstruction d)
    {
        int seg = SegmentOf(d.I.Op0Register);
        if (seg == Processor.Cs) throw Processor.Ud();
        ushort sel = (ushort)c.ReadOperand(ref d, 1, 2);
        c.LoadDataSegment(seg, sel);
        // MOV SS inhibits interrupts (and debug traps) until after the next instruction.
        if (seg == Processor.Ss) c.StackSegmentLoaded();
        c.Rip = d.NextIp;
        return false;
    }

    private static bool PushSreg(Processor c, ref DecodedInstruction d)
    {
        int size = -d.I.StackPointerIncrement;
        c.Push(c.Seg[SegmentOf(d.I.Op0Register)].Selector, size);
        return true;
    }

    private static bool PopSreg(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.StackPointerIncrement;
        int seg = SegmentOf(d.I.Op0Register);
        ushort sel = (ushort)c.PeekStack(0, size);
        // The pop moves the stack pointer with the width of the stack it read from, even when it loads SS.
        ulong mask = c.StackMask, rsp = c.R(Processor.Rsp);
        c.LoadDataSegment(seg, sel);
        c.R(Processor.Rsp) = (rsp & ~mask) | ((rsp + (ulong)size) & mask);
        if (seg == Processor.Ss) c.StackSegmentLoaded();
        c.Rip = d.NextIp;
        return false;
    }

    private static bool LoadFarPointer(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong la = c.LinearAddress(ref d);
        ulong offset = c.Read(la, size);
        ushort sel = (ushort)c.Read((la + (ulong)size) & c.LinearMask, 2);
        int seg = d.I.Mnemonic switch
        {
            Mnemonic.Lds => Processor.Ds,
            Mnemonic.Les => Processor.Es,
            Mnemonic.Lfs => Processor.Fs,
            Mnemonic.Lgs => Processor.Gs,
            _ => Processor.Ss,
        };
        c.LoadDataSegment(seg, sel);
        c.WriteReg(d.Reg0, size, offset);
        c.Rip = d.NextIp;
        return false;
    }

    // ---- Far transfers ---------------------------------------------------------------------------

    private static (ushort Selector, ulong Offset) FarTarget(Processor c, ref DecodedInstruction d, out int size)
    {
        if (d.Kind0 == OperandKind.Memory)
        {
            size = d.I.Code switch { Code.Jmp_m1616 or Code.Call_m1616 => 2, Code.Jmp_m1632 or Code.Call_m1632 => 4, _ => 8 };
            ulong la = c.LinearAddress(ref d);
            ulong offset = c.Read(la, size);
            return ((ushort)c.Read((la + (ulong)size) & c.LinearMask, 2), offset);
        }
        size = d.I.Code is Code.Jmp_ptr1616 or Code.Call_ptr1616 ? 2 : 4;
        return (d.I.FarBranchSelector, size == 2 ? d.I.FarBranch16 : d.I.FarBranch32);
    }

    private static bool JumpFar(Processor c, ref DecodedInstruction d)
    {
        var (sel, offset) = FarTarget(c, ref d, out int size);
        c.FarJump(sel, offset, size);
        return false;
    }

    private static bool CallFar(Processor c, ref DecodedInstruction d)
    {
        var (sel, offset) = FarTarget(c, ref d, out int size);
        c.FarCall(sel, offset, size, d.NextIp);
        return false;
    }

    private static bool ReturnFar(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Code switch
        {
            Code.Retfw or Code.Retfw_imm16 => 2,
            Code.Retfd or Code.Retfd_imm16 => 4,
            _ => 8,
        };
        c.FarReturn(size, d.Kind0 == OperandKind.Immediate ? (ushort)d.Immediate : (ushort)0);
        return false;
    }

    private static bool Iret(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Code switch { Code.Iretw => 2, Code.Iretd => 4, _ => 8 };
        ulong next = d.NextIp;
        c.WithRegisters(s =>
        {
            s.Regs.Rip = next;
            var memory = c.LinearMemoryFor(s);
            IretEmulation.Execute(s, memory, size);
            memory.Commit();
            return 0;
        });
        c.RetiredVmmEmulatedInstruction();
        return false;
    }

    private static bool Int(Processor c, ref DecodedInstruction d)
    {
        c.DeliverSoftwareInterrupt((byte)d.Immediate, d.NextIp);
        return false;
    }

    private static bool Int3(Processor c, ref DecodedInstruction d)
    {
        c.DeliverSoftwareInterrupt(GuestException.Breakpoint, d.NextIp);
        c.RetiredVmmEmulatedInstruction();
        return false;
    }

    private static bool Into(Processor c, ref DecodedInstruction d)
    {
        if (c.Long64) throw Processor.Ud();
        if (!c.Of) return true;
        c.DeliverSoftwareInterrupt(4, d.NextIp);
        return false;
    }

    // INT1 (ICEBP) raises #DB as a hardware trap would: no gate privilege check.
    private static bool Int1(Processor c, ref DecodedInstruction d)
    {
        c.Rip = d.NextIp;
        c.RaiseFault(new GuestException(1, null), d.NextIp);
        return false;
    }
}
