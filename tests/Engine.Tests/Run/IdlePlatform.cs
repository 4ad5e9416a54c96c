using VmReplay.Engine.Run;

namespace VmReplay.Engine.Tests.Run;

/// <summary>A platform with no devices, for run-loop tests: reads give 0xFF, writes go nowhere, nothing is ever due; <see cref="Stop"/> ends the run.</summary>
internal sealed class IdlePlatform : IMachinePlatform
{
    public volatile RunOutcome? Stop;
    public void PortRead(ushort port, Span<byte> data) => data.Fill(0xFF);
    public void PortWrite(ushort port, ReadOnlySpan<byte> data) { }
    public void MmioRead(ulong address, Span<byte> data) => data.Fill(0xFF);
    public void MmioWrite(ulong address, ReadOnlySpan<byte> data) { }
    public bool HasPendingInterrupt => false;
    public byte AcknowledgeInterrupt() => 0;
    public long? NextDeadlineNanoseconds => null;
    public void AdvanceTo(long nowNanoseconds) { }
    public void PollInput() { }
    public RunOutcome? StopRequest => Stop;
}
