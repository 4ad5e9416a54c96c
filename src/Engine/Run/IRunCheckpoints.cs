namespace VmReplay.Engine.Run;

/// <summary>
/// Points after an exit at which the run loop hands over a whole machine state: the vCPU is
/// stopped and the exit's instruction is complete (an I/O read has reached its register). A
/// recorder takes snapshots there; a replay checks its state against them at the same exits.
/// Where the backend counts instructions and guest time is their count, also right after a
/// service at a stop the run loop makes at <see cref="DueNanoseconds"/> when no exit came first:
/// a guest that spins without exits gets its checkpoints too.
/// </summary>
public interface IRunCheckpoints
{
    /// <summary>
    /// Whether the stop after exit number <paramref name="exitCount"/> (0: the start) is a
    /// checkpoint: <paramref name="exitCount"/> if it is; if not, the lowest exit count at which
    /// one may be, which the run loop does not ask about again before (nor before the next
    /// checkpoint, or a new run: a restore between runs may move it). Where more than the exit
    /// count decides (guest time), the answer is the next exit.
    /// </summary>
    long NextDue(long exitCount);

    /// <summary>The machine is at the checkpoint after exit <paramref name="exitCount"/>; its state may be read but not changed.</summary>
    void Reached(long exitCount);

    /// <summary>
    /// The guest time at which the run loop stops the guest for the next checkpoint if no exit
    /// has been one by then, or null. Read again after each checkpoint; a replay, which stops
    /// where its recording did, has none.
    /// </summary>
    long? DueNanoseconds => null;
}
