using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub;

/// <summary>How gdb asked the target to move.</summary>
public enum Motion { Continue, Step, ReverseContinue, ReverseStep }

/// <summary>
/// Why the target stopped, in protocol terms. <paramref name="Message"/> is text gdb prints on its
/// console before it reports the stop (why a watchpoint stopped where no instruction wrote, or
/// why a motion could not finish), sent once with the stop.
/// </summary>
public sealed record TargetStop(StopCause Cause, ulong WatchAddress = 0, int Signal = 5, string? Message = null);

/// <summary>
/// What <see cref="GdbSession"/> debugs: one target, independent of the protocol and of the
/// transport (as in the gdbstub crate). Single vCPU, thread 1.
/// </summary>
public interface IDebugTarget
{
    /// <summary>The registers this target offers, and the target description gdb reads.</summary>
    RegisterLayout Registers { get; }

    /// <summary>Every register of <see cref="Registers"/>, in order, little-endian.</summary>
    IReadOnlyList<byte[]> ReadRegisters();

    /// <summary>Reads guest-virtual memory through the guest's current translation; returns the bytes read (fewer at an unmapped page), or an error text when none could be.</summary>
    (byte[] Data, string? Error) ReadMemory(ulong address, int length);

    /// <summary>Why registers and memory cannot be written, or null when they can.</summary>
    string? WriteRefusal { get; }

    /// <summary>Moves the target and blocks until it stops.</summary>
    TargetStop Resume(Motion motion);

    /// <summary>Asks a running <see cref="Resume"/> to stop soon; called from the transport's thread.</summary>
    void RequestInterrupt();

    /// <summary>Why the target is stopped now (the answer to '?').</summary>
    TargetStop CurrentStop { get; }

    /// <summary>Inserts a breakpoint or watchpoint; returns null, or the reason it cannot (shown by gdb).</summary>
    string? InsertPoint(PointKind kind, ulong address, int size);

    /// <summary>Removes one; returns null, or the reason it cannot.</summary>
    string? RemovePoint(PointKind kind, ulong address, int size);

    /// <summary>The point kinds this target implements (others answer "unsupported").</summary>
    bool Supports(PointKind kind);

    /// <summary>Runs a `monitor` command and returns its output text.</summary>
    string Monitor(string command);
}
