using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>
/// Logs every point where the run loop serviced asynchronous work. At an exit the position alone
/// identifies the point; where the backend counts instructions, the count does. At a forced
/// stop of a backend that does not (a kick landed while the guest ran without exits), the point
/// is identified by the next instruction's address, all general registers and flags, and a hash
/// of the pages written since the previous service point: a replay stops at the first place with
/// the same state, which is an equivalent point.
/// </summary>
public sealed class ServicePointLog(TraceWriter writer, IVcpuBackend vcpu, DirtyPageTracker dirty) : IServicePointLog
{
    public void Serviced(in StopPoint stop)
    {
        if (stop.Kind == StopKind.Exit)
        {
            dirty.Reset();
            writer.Append(new ServiceEvent());
            return;
        }
        // A backend that counts instructions names the point exactly.
        if (stop.Instructions is { } retired)
        {
            dirty.Reset();
            writer.Append(new ScheduledServiceEvent(retired));
            return;
        }
        var regs = vcpu.ReadRegisters();
        ulong linear = vcpu.WithState(s => s.LinearRip);
        var (contents, addresses) = dirty.Hashes();
        dirty.Reset();
        writer.Append(new ForcedServiceEvent(linear, RegisterFile.From(regs), contents, addresses));
    }
}
