using VmReplay.Engine.Emulation;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>Segment register loads with the protected-mode checks (SDM vol. 3A, 5.4-5.8; vol. 2 "MOV", "POP", "JMP").</summary>
public sealed partial class Processor
{
    internal bool ProtectedMode => (Cr0 & Cr0Pe) != 0 && (_flags & FlagVm) == 0;

    /// <summary>Reads the descriptor of <paramref name="selector"/> from the GDT or LDT; #GP(selector) beyond the table's limit.</summary>
    internal SegmentDescriptor ReadDescriptor(ushort selector) =>
        TryReadDescriptor(selector) ?? throw Gp((uint)(selector & 0xFFFC));

    /// <summary>
    /// The descriptor of <paramref name="selector"/>, or null where the selector lies beyond its
    /// table's limit or names the LDT while there is none (LAR, LSL, VERR and VERW answer with ZF
    /// there; everything else raises #GP(selector)). A fault reading the table is raised.
    /// </summary>
    internal SegmentDescriptor? TryReadDescriptor(ushort selector)
    {
        bool ldt = (selector & 4) != 0;
        if (ldt && (Ldtr.Unusable != 0 || Ldtr.Present == 0)) return null;
        ulong tableBase = ldt ? Ldtr.Base : Gdtr.Base;
        uint limit = ldt ? Ldtr.Limit : Gdtr.Limit;
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > limit) return null;
        ulong address = (tableBase + offset) & LinearMask;
        return new SegmentDescriptor(ReadSystem(address, 8), address);
    }

    /// <summary>
    /// The upper 8 bytes of a 16-byte system descriptor (a 64-bit call gate, TSS or LDT) that
    /// <paramref name="low"/> begins; #GP(selector) where they lie beyond the table's limit.
    /// </summary>
    internal ulong ReadDescriptorHigh(SegmentDescriptor low, ushort selector)
    {
        bool ldt = (selector & 4) != 0;
        uint limit = ldt ? Ldtr.Limit : Gdtr.Limit;
        if ((uint)(selector & 0xFFF8) + 15 > limit) throw Gp((uint)(selector & 0xFFFC));
        return ReadSystem((low.TableAddress + 8) & LinearMask, 8);
    }

    /// <summary>Sets a descriptor's accessed bit in memory, as a segment load does.</summary>
    internal void MarkAccessed(SegmentDescriptor d)
    {
        if ((d.Type & 1) == 0) WriteSystem(d.TableAddress + 5, 1, (byte)((d.Raw >> 40) | 1));
    }

    /// <summary>MOV/POP to DS, ES, FS, GS or SS, and LDS-style loads: the checks, then the hidden part.</summary>
    internal void LoadDataSegment(int seg, ushort selector)
    {
        if (!ProtectedMode)
        {
            // Real mode changes selector and base only: limit and attributes stay as they were
            // (so "unreal mode" limits survive), and the segment is usable.
            Seg[seg].Selector = selector;
            Seg[seg].Base = (ulong)selector << 4;
            Seg[seg].Unusable = 0;
            Seg[seg].Present = 1;
            if ((Cr0 & Cr0Pe) != 0)
            {
                // Virtual-8086 mode: every segment is a 64 KiB data segment at privilege 3.
                Seg[seg].Limit = 0xFFFF;
                Seg[seg].Dpl = 3;
            }
            SegmentLoaded(seg);
            return;
        }
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == Ss && !(Long64 && Cpl < 3 && (selector & 3) == Cpl)) throw Gp();
            // A null selector loads an unusable segment; a use of it faults.
            Seg[seg] = new SegmentRegister { Selector = selector, Unusable = 1, Dpl = (byte)(seg == Ss ? Cpl : 0), Db = (byte)(seg == Ss && Long64 ? 1 : 0) };
            SegmentLoaded(seg);
            return;
        }
        var d = ReadDescriptor(selector);
        int rpl = selector & 3;
        if (seg == Ss)
        {
            if (rpl != Cpl || !d.IsWritableData || d.Dpl != Cpl) throw Gp(error);
            if (!d.Present) throw new GuestException(GuestException.StackFault, error);
        }
        else
        {
            bool readable = d.S && ((d.Type & 8) == 0 || (d.Type & 2) != 0);
            if (!readable) throw Gp(error);
            bool conformingCode = (d.Type & 0xC) == 0xC;
            if (!conformingCode && (rpl > d.Dpl || Cpl > d.Dpl)) throw Gp(error);
            if (!d.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        }
        MarkAccessed(d);
        Seg[seg] = d.ToSegmentRegister(selector);
        SegmentLoaded(seg);
    }

    private void SegmentLoaded(int seg)
    {
        if (seg == Ss) ModeChanged();
        else RefreshSegmentBases();
    }

    /// <summary>Loads CS (after its checks) and continues at <paramref name="rip"/>; the code size may change.</summary>
    internal void LoadCodeSegment(SegmentRegister cs, ulong rip)
    {
        Seg[Cs] = cs;
        Rip = rip;
        ModeChanged();
    }

    /// <summary>A far transfer in real mode: CS = selector, base = selector · 16.</summary>
    internal void LoadRealModeCodeSegment(ushort selector, ulong ip)
    {
        Seg[Cs].Selector = selector;
        Seg[Cs].Base = (ulong)selector << 4;
        Rip = ip;
        ModeChanged();
    }
}
