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
    /// <summary>Whether the stop after exit number <paramref name="exitCount"/> (0: the start) is a checkpoint.</summary>
    bool IsDue(long exitCount);

    /// <summary>
    /// The lowest exit count at which <see cref="IsDue"/> may answer true until the next
    /// checkpoint: the run loop does not ask it at exits before that. Read when the checkpoints
    /// are set and again after each <see cref="Reached"/>. The default, <see cref="long.MinValue"/>,
    /// has it asked at every exit; where the answer depends on more than the exit count (guest
    /// time), that is the only right answer.
    /// </summary>
    long DueFromExit => long.MinValue;

    /// <summary>The machine is at the checkpoint after exit <paramref name="exitCount"/>; its state may be read but not changed.</summary>
    void Reached(long exitCount);

    /// <summary>
    /// The guest time at which the run loop stops the guest for the next checkpoint if no exit
    /// has been one by then, or null. Read again after each checkpoint; a replay, which stops
    /// where its recording did, has none.
    /// </summary>
    long? DueNanoseconds => null;
}
