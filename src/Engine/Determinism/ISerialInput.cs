namespace VmReplay.Engine.Determinism;

/// <summary>
/// The only source of host input for the guest (bytes for the serial port). A recorder logs
/// every byte taken; a replayer hands the logged bytes back at the same points.
/// </summary>
public interface ISerialInput
{
    /// <summary>Takes the next byte if one is available now; never blocks.</summary>
    bool TryRead(out byte value);
}
