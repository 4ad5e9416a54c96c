using VmReplay.Engine.Cpu;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>Writes to CR0, CR3, CR4 and EFER with their checks and effects (SDM vol. 3A, 2.5, 9.8.5), and the MSRs the processor keeps itself.</summary>
public sealed partial class Processor
{
    internal void WriteCr0(ulong v)
    {
        if ((v >> 32) != 0 && Long64 || (v & Cr0Pg) != 0 && (v & Cr0Pe) == 0 || (v & Cr0Nw) != 0 && (v & Cr0Cd) == 0) throw Gp();
        // Reserved bits of CR0[31:0] are ignored (SDM 2.5); ET is fixed to 1.
        v = (v & (Cr0Pe | Cr0Mp | Cr0Em | Cr0Ts | Cr0Ne | Cr0Wp | Cr0Am | Cr0Nw | Cr0Cd | Cr0Pg)) | Cr0Et;
        bool pagingOn = (v & Cr0Pg) != 0 && (Cr0 & Cr0Pg) == 0;
        bool pagingOff = (v & Cr0Pg) == 0 && (Cr0 & Cr0Pg) != 0;
        if (pagingOn && (Efer & EferLme) != 0)
        {
            // Entering IA-32e mode needs PAE, and is done from compatibility-style code.
            if ((Cr4 & Cr4Pae) == 0) throw Gp();
            Efer |= EferLma;
        }
        if (pagingOff && (Efer & EferLma) != 0)
        {
            if (Long64) throw Gp();
            Efer &= ~EferLma;
        }
        bool flush = ((Cr0 ^ v) & (Cr0Pg | Cr0Wp | Cr0Pe)) != 0;
        Cr0 = v;
        ModeChanged();
        if (flush) FlushTlb();
    }

    internal void WriteCr3(ulong v)
    {
        if (Long64 && (v >> PageWalker.MaxPhysicalAddressBits) != 0) throw Gp();
        Cr3 = v;
        FlushTlb();
    }

    /// <summary>
    /// INVLPG (SDM vol. 2A "INVLPG", vol. 3A 4.10.4.1): drops every cached translation of the
    /// page that maps <paramref name="linear"/>. That page may be a large one (4 MiB with 32-bit
    /// paging and PSE, 2 MiB with PAE and 4-level paging), whose 4 KiB pieces the TLB caches one
    /// per slot: every slot that may hold a piece of it is dropped, whatever the address was
    /// mapped with before.
    /// </summary>
    internal void InvalidatePage(ulong linear)
    {
        linear &= LinearMask;
        FlushTlbPage(linear);
        if (_largePagesCached.Count == 0) return;
        ulong largePage = (Cr4 & Cr4Pae) != 0 || (Efer & EferLma) != 0 ? 2UL << 20 : (Cr4 & Cr4Pse) != 0 ? 4UL << 20 : 0x1000;
        ulong first = linear & ~(largePage - 1);
        // Only a large page that was cached has pieces in other slots.
        if (!_largePagesCached.Remove(first)) return;
        ulong pages = largePage >> 12;
        for (ulong n = 0; n < pages && n <= TlbMask; n++)
        {
            int slot = (int)(((first >> 12) + n) & TlbMask);
            DropIfWithin(_tlbRead, slot, first, largePage);
            DropIfWithin(_tlbWrite, slot, first, largePage);
            DropIfWithin(_tlbFetch, slot, first, largePage);
        }
        // Decoded blocks are looked up through the translation: make chained successors look again.
        _mapGeneration++;
    }

    private static void DropIfWithin(TlbEntry[] tlb, int slot, ulong first, ulong size)
    {
        ulong page = tlb[slot].Tag & PageMask;
        if (tlb[slot].Tag != InvalidTag && page - first < size) tlb[slot].Tag = InvalidTag;
    }

    // CR4 bits this processor has: VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR,
    // OSXMMEXCPT, and SMEP where its CPUID says so (leaf 7 EBX bit 7: the software CPU's own
    // model has it; a model recorded before it did, or on a KVM host without it, does not).
    private ulong Cr4Supported => 0x7FF | (Cpuid.MaxBasic >= 7 && (Cpuid.Lookup(7, 0).Ebx & (1u << 7)) != 0 ? PagingContext.Cr4Smep : 0);

    internal void WriteCr4(ulong v)
    {
        if ((v & ~Cr4Supported) != 0) throw Gp();
        if ((Efer & EferLma) != 0 && (v & Cr4Pae) == 0) throw Gp();
        Cr4 = v;
        FlushTlb();
    }

    private const uint MsrEfer = 0xC000_0080, MsrFsBase = 0xC000_0100, MsrGsBase = 0xC000_0101, MsrUcodeRev = ProcessorMsrs.UcodeRev,
        MsrFmask = 0xC000_0084, MsrPat = ProcessorMsrs.Pat;

    private static bool ValidPat(ulong pat)
    {
        for (int i = 0; i < 8; i++)
            if (((pat >> (8 * i)) & 0xFF) is not (0 or 1 or 4 or 5 or 6 or 7)) return false;
        return true;
    }

    /// <summary>
    /// Whether an MSR access the VMM refuses raises #GP (true, as on hardware). False replays a
    /// software-CPU recording made before 2026-12-04, when none did: a refused read got the last
    /// MSR value the exit buffer held and a refused write was dropped, which such a recording's
    /// guest acted on (Linux read APIC_BASE so).
    /// </summary>
    public bool RefusedMsrsFault { get; set; } = true;

    /// <summary>An MSR the processor answers itself (<see cref="ProcessorMsrs"/>; the rest go to the VMM as exits).</summary>
    internal bool TryReadOwnMsr(uint index, out ulong value)
    {
        switch (index)
        {
            case MsrEfer: value = Efer; return true;
            case MsrFsBase: value = Seg[Fs].Base; return true;
            case MsrGsBase: value = Seg[Gs].Base; return true;
            // Microcode revision: Linux reads it on every Intel family 6 processor, with no fault handler.
            case MsrUcodeRev: value = 0; return true;
            default: return Msrs.TryGetValue(index, out value);
        }
    }

    internal bool TryWriteOwnMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrEfer:
                ulong allowed = EferSce | EferLme | EferNxe;
                if ((value & ~(allowed | EferLma)) != 0) throw Gp();
                // LME cannot change while paging is on.
                if ((Cr0 & Cr0Pg) != 0 && ((value ^ Efer) & EferLme) != 0) throw Gp();
                ulong next = (value & allowed) | (Efer & EferLma);
                bool flush = ((next ^ Efer) & EferNxe) != 0;
                Efer = next;
                ModeChanged();
                if (flush) FlushTlb();
                return true;
            case MsrFsBase:
            case MsrGsBase:
                if (!PageWalker.IsCanonical48(value)) throw Gp();
                Seg[index == MsrFsBase ? Fs : Gs].Base = value;
                RefreshSegmentBases();
                return true;
            case MsrUcodeRev:
                return true;
            default:
                if (!Msrs.ContainsKey(index)) return false;
                if (index is 0xC000_0082 or 0xC000_0083 or 0xC000_0102 or 0x175 or 0x176 && !PageWalker.IsCanonical48(value)) throw Gp();
                // SFMASK has no bits above 31; PAT holds a memory type per byte (UC, WC, WT, WP, WB, UC-).
                if (index == MsrFmask && (value >> 32) != 0 || index == MsrPat && !ValidPat(value)) throw Gp();
                Msrs[index] = value;
                return true;
        }
    }

    /// <summary>Linear-memory access for engine code shared with the KVM path, on <paramref name="state"/>'s translation.</summary>
    internal GuestLinearMemory LinearMemoryFor(VcpuState state) => new(_memory, state) { Accessed = WatchObserver };
}
