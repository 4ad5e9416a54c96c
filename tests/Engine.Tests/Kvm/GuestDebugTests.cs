using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Kvm;

/// <summary>Hardware execution breakpoints as the replayer uses them to reach a recorded instruction.</summary>
public sealed class GuestDebugTests : IDisposable
{
    private readonly KvmSystem _kvm;
    private readonly KvmMachine _vm;

    public GuestDebugTests()
    {
        KvmHost.Require(); // skips each test before KVM is opened
        _kvm = KvmSystem.Open();
        _vm = KvmMachine.Create(_kvm, new MachineBackendOptions { MemorySize = 2UL << 20 });
    }

    public void Dispose()
    {
        _vm.Dispose();
        _kvm.Dispose();
    }

    [Fact]
    public void ExecutionBreakpointHitsEveryIterationWhenSteppedOver()
    {
        // 7C00: inc ax ; 7C01: jmp 7C00
        _vm.Memory.Write(0x7C00, [0x40, 0xEB, 0xFD]);
        var vcpu = _vm.KvmVcpus[0];
        vcpu.WithState(s =>
        {
            s.Sregs.Cs = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
            s.Sregs.Ss = s.Sregs.Ds = new SegmentRegister { Limit = 0xFFFF, Type = 3, Present = 1, S = 1 };
            s.Regs = new GeneralRegisters { Rip = 0x7C00, Rsp = 0x7000, Rflags = 2 };
        });
        var dbg = new KvmGuestDebug { Control = KvmGuestDebug.Enable | KvmGuestDebug.UseHwBp };
        unsafe
        {
            dbg.DebugReg[0] = 0x7C01;
            dbg.DebugReg[7] = 0x1; // L0, execute, 1 byte
        }
        vcpu.Kvm.SetGuestDebug(dbg);
        var seen = new List<ulong>();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
            Assert.Equal(KvmExitReason.Debug, vcpu.Kvm.RunPage.ExitReason);
            seen.Add(vcpu.WithState(s => s.Regs.Rax & 0xFFFF));
            // Step over as a debugger does: RF is not honoured everywhere, so single-step with
            // the breakpoint disarmed, then arm it again.
            vcpu.Kvm.SetGuestDebug(new KvmGuestDebug { Control = KvmGuestDebug.Enable | KvmGuestDebug.SingleStep });
            Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
            Assert.Equal(KvmExitReason.Debug, vcpu.Kvm.RunPage.ExitReason);
            Assert.Equal(0x7C00UL, vcpu.WithState(s => s.Regs.Rip));
            vcpu.Kvm.SetGuestDebug(dbg);
        }
        Assert.Equal([1UL, 2, 3], seen);
    }
}
