using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;

namespace VmReplay.Devices.Platform;

/// <summary>A stopped machine's state apart from RAM: the vCPU, every device, and the run loop's counters.</summary>
public sealed record MachineState(VcpuState Vcpu, PcPlatformState Platform, RunnerCounters Counters);
