using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>Takes the fingerprint of the exit a stopped vCPU just made.</summary>
public static class ExitFingerprint
{
    public static ExitEvent Capture(IVcpuBackend vcpu, VcpuExit exit)
    {
        Span<byte> msr = stackalloc byte[8];
        return Fields(vcpu, exit, msr).ToEvent();
    }

    /// <summary>Appends the fingerprint <see cref="Capture"/> would take to <paramref name="writer"/>, without making an event of it.</summary>
    public static void AppendTo(TraceWriter writer, IVcpuBackend vcpu, VcpuExit exit)
    {
        if (IsSmallPortExit(exit))
        {
            long? instructions = InstructionsOf(vcpu, exit);
            if (writer.TryAppendRepeatedPortExit(RipOf(vcpu, exit), instructions ?? 0, PortExitPrediction.KeyOf(exit.Port, exit.Size, exit.IsWrite, instructions.HasValue), exit.FirstElement))
                return;
        }
        AppendFields(writer, vcpu, exit);
    }

    // Any exit but a repetition, written field by field: a method of its own, so that the check
    // for a repetition (a polling loop's every exit) runs in a small frame. With the fields'
    // locals in it, the precompiled check set up a 288-byte frame and zeroed part of it at
    // every exit.
    [MethodImpl(MethodImplOptions.NoInlining), SkipLocalsInit]
    private static void AppendFields(TraceWriter writer, IVcpuBackend vcpu, VcpuExit exit)
    {
        ulong msr = 0;
        writer.AppendExit(Fields(vcpu, exit, MemoryMarshal.AsBytes(new Span<ulong>(ref msr))));
    }

    // The fingerprint as values; an MSR's value is written into `msr`, which the data then borrows.
    // Inlined with what it reads into each per-exit path (a recording's append, a replay's
    // checks): in a profile of a 4,000,000-exit recording, the calls to Access, Data and
    // ExitReasons.Of were a tenth of what recording added to each exit.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ExitFields Fields(IVcpuBackend vcpu, VcpuExit exit, Span<byte> msr)
    {
        var (address, size, flags, count) = Access(exit);
        return new ExitFields((uint)ExitReasons.Of(exit.Kind), RipOf(vcpu, exit), address, size, flags, count, Data(exit, msr), InstructionsOf(vcpu, exit));
    }

    // Where the vCPU stopped: from the exit where the backend put it there, else from the vCPU.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RipOf(IVcpuBackend vcpu, VcpuExit exit) => exit.HasPosition ? exit.Rip : vcpu.ReadInstructionPointer();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long? InstructionsOf(IVcpuBackend vcpu, VcpuExit exit) => exit.HasPosition ? exit.Instructions : vcpu.InstructionsRetired;

    /// <summary>
    /// Whether the exit a stopped vCPU just made is, byte for byte, the one encoded in
    /// <paramref name="batch"/> at <paramref name="at"/> (then <see cref="Matches(in ExitFields, IVcpuBackend, VcpuExit)"/>
    /// says so too), and if so where the event after it starts and its <paramref name="shape"/>,
    /// which a repetition of it has too (<see cref="MatchesRepetition"/>). How a replay checks
    /// nearly every exit: encoding it costs what the recording paid, reading the recorded one and
    /// comparing it field by field about twice that. One call from the replay, the encoding
    /// inlined here: precompiled code calls across assemblies without inlining.
    /// </summary>
    public static unsafe bool MatchesEncoded(IVcpuBackend vcpu, VcpuExit exit, ReadOnlySpan<byte> batch, EventReader.Place at, out EventReader.Place after, out ExitShape shape)
    {
        after = default;
        Span<byte> msr = stackalloc byte[8];
        var x = Fields(vcpu, exit, msr);
        // Exits that move more (string I/O) are compared by reading the recorded one.
        if (!ExitShape.TryOf(x, at.PrevRip, at.PrevScheduled, out shape)) return false;
        byte* encoded = stackalloc byte[EventCodec.MaxExitSize(ExitShape.MaxData)];
        int n = EventCodec.WriteExit(encoded, x, at.PrevRip, at.PrevScheduled);
        if (!EventReader.MatchesExitAt(batch, at, new ReadOnlySpan<byte>(encoded, n), out var next)) return false;
        after = next with { PrevRip = x.Rip, PrevScheduled = x.Instructions ?? at.PrevScheduled };
        return true;
    }

    /// <summary>
    /// Whether the exit a stopped vCPU just made is the next repetition, at <paramref name="at"/>,
    /// of a repeated exit of shape <paramref name="repeated"/> (the place is inside the run:
    /// <see cref="EventReader.Place.RepeatsLeft"/> &gt; 0), as <see cref="MatchesEncoded"/> would
    /// say without encoding it; and if so moves <paramref name="at"/> to where the event after it
    /// starts (in place: a polling loop's replay takes this path at nearly every exit, and copies
    /// of the place in and out were a part of it).
    /// </summary>
    public static bool MatchesRepetition(IVcpuBackend vcpu, VcpuExit exit, in ExitShape repeated, ref EventReader.Place at)
    {
        if (at.RepeatsLeft <= 0) return false;
        if (!IsSmallPortExit(exit)) return MatchesRepeatedFields(vcpu, exit, repeated, ref at);
        ulong rip = RipOf(vcpu, exit);
        long? instructions = InstructionsOf(vcpu, exit);
        if (!repeated.IsPortExit(rip, at.PrevRip, instructions, at.PrevScheduled, exit.Port, exit.Size, exit.IsWrite, exit.FirstElement)) return false;
        at = Repeated(at, rip, instructions);
        return true;
    }

    // A repetition of any other exit, compared by its shape; kept out of MatchesRepetition for
    // the frame its fields need (as AppendFields is for AppendTo).
    [MethodImpl(MethodImplOptions.NoInlining), SkipLocalsInit]
    private static bool MatchesRepeatedFields(IVcpuBackend vcpu, VcpuExit exit, in ExitShape repeated, ref EventReader.Place at)
    {
        ulong msr = 0;
        var x = Fields(vcpu, exit, MemoryMarshal.AsBytes(new Span<ulong>(ref msr)));
        if (!ExitShape.TryOf(x, at.PrevRip, at.PrevScheduled, out var shape) || shape != repeated) return false;
        at = Repeated(at, x.Rip, x.Instructions);
        return true;
    }

    // The place after one more repetition at `rip`, `instructions`. Built whole, not with `with`:
    // the precompiled code then stores its fields in place rather than through a copy.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static EventReader.Place Repeated(in EventReader.Place at, ulong rip, long? instructions) =>
        new(at.Position, rip, at.PrevClock, instructions ?? at.PrevScheduled, at.LastExit, at.RepeatsLeft - 1);

    /// <summary>
    /// Whether the exit a stopped vCPU just made is <paramref name="expected"/>, as
    /// <see cref="ExitEvent.Matches"/> would say of its <see cref="Capture"/>, without building
    /// one: a replay checks every exit, and almost all of them match.
    /// </summary>
    public static bool Matches(ExitEvent expected, IVcpuBackend vcpu, VcpuExit exit) => Matches(ExitFields.Of(expected), vcpu, exit);

    /// <summary>As <see cref="Matches(ExitEvent, IVcpuBackend, VcpuExit)"/>, of a fingerprint read as values.</summary>
    public static bool Matches(in ExitFields expected, IVcpuBackend vcpu, VcpuExit exit)
    {
        if (expected.Reason != (uint)ExitReasons.Of(exit.Kind) || expected.Rip != RipOf(vcpu, exit)) return false;
        if (expected.Instructions is { } n && InstructionsOf(vcpu, exit) is { } retired && n != retired) return false;
        var (address, size, flags, count) = Access(exit);
        Span<byte> msr = stackalloc byte[8];
        return expected.Address == address && expected.Size == size && expected.Flags == flags && expected.Count == count
            && Data(exit, msr).SequenceEqual(expected.Data);
    }

    // A port exit of one element of at most 8 bytes (IN/OUT; string I/O that moved one): the
    // exits ExitShape.IsPortExit compares from values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSmallPortExit(VcpuExit exit) => exit.Kind == VcpuExitKind.PortIo && exit.Count == 1 && exit.Size <= 8;

    // What the exit accessed, as a fingerprint records it: Capture and Matches read it from here alike.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ulong Address, byte Size, byte Flags, uint Count) Access(VcpuExit exit)
    {
        byte write = exit.IsWrite ? ExitEvent.FlagWrite : (byte)0;
        return exit.Kind switch
        {
            VcpuExitKind.PortIo => (exit.Port, (byte)exit.Size, write, (uint)exit.Count),
            VcpuExitKind.Mmio => (exit.Address, (byte)exit.Size, write, 1),
            VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite => (exit.MsrIndex, 8, write, 1),
            _ => (0, 0, 0, 0),
        };
    }

    // The bytes moved; an MSR's value is written into `msr`, little-endian.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Data(VcpuExit exit, Span<byte> msr)
    {
        switch (exit.Kind)
        {
            case VcpuExitKind.PortIo or VcpuExitKind.Mmio:
                return exit.Data;
            case VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite:
                BinaryPrimitives.WriteUInt64LittleEndian(msr, exit.MsrData);
                return msr;
            default:
                return [];
        }
    }
}
