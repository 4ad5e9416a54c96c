using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Run;
using VmReplay.Engine.Tests.Run;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Kvm;

/// <summary>The binding on the real /dev/kvm with tiny hand-assembled real-mode programs.</summary>
public sealed class KvmVcpuTests : IDisposable
{
    private readonly KvmSystem _kvm;
    private readonly KvmMachine _vm;

    public KvmVcpuTests()
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

    private KvmMachineVcpu LoadRealMode(byte[] code, ushort at = 0x7C00)
    {
        _vm.Memory.Write(at, code);
        var vcpu = _vm.KvmVcpus[0];
        vcpu.WithState(s =>
        {
            s.Sregs.Cs = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
            s.Sregs.Ds = s.Sregs.Es = s.Sregs.Ss = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, Present = 1, S = 1 };
            s.Sregs.Idt = new DescriptorTableRegister { Base = 0, Limit = 0x3FF };
            s.Regs = new GeneralRegisters { Rip = at, Rsp = 0x7000, Rflags = 2 };
        });
        return vcpu;
    }

    [Fact]
    public void PortWriteThenHalt()
    {
        // mov dx,0x3f8 ; mov al,'A' ; out dx,al ; hlt
        var vcpu = LoadRealMode([0xBA, 0xF8, 0x03, 0xB0, 0x41, 0xEE, 0xF4]);
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        var run = vcpu.Kvm.RunPage;
        Assert.Equal(KvmExitReason.Io, run.ExitReason);
        Assert.True(run.IoIsOut);
        Assert.Equal(0x3F8, run.IoPort);
        Assert.Equal((byte)'A', run.IoData[0]);
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.Hlt, run.ExitReason);
        Assert.False(run.IfFlag);
        Assert.Equal(0x7C07UL, vcpu.WithState(s => s.Regs.Rip));
    }

    [Fact]
    public void KickerInterruptsAGuestSpinningWithoutExits()
    {
        var vcpu = LoadRealMode([0xEB, 0xFE]); // jmp $
        var kicker = new VcpuKicker();
        KvmVcpu.RunStatus status = KvmVcpu.RunStatus.Exited;
        var t = new Thread(() =>
        {
            kicker.Attach(vcpu.Kvm);
            try { status = vcpu.Kvm.Run(); }
            finally { kicker.Detach(); }
        });
        t.Start();
        Thread.Sleep(100);
        kicker.Kick();
        Assert.True(t.Join(TimeSpan.FromSeconds(10)), "KVM_RUN did not return after a kick");
        Assert.Equal(KvmVcpu.RunStatus.Interrupted, status);
    }

    [Fact]
    public void KickBeforeEnteringMakesTheNextRunReturnAtOnce()
    {
        var vcpu = LoadRealMode([0xEB, 0xFE]);
        var kicker = new VcpuKicker();
        KvmVcpu.RunStatus status = KvmVcpu.RunStatus.Exited;
        var t = new Thread(() =>
        {
            kicker.Attach(vcpu.Kvm);
            kicker.Kick(); // pending before KVM_RUN: no race window
            try { status = vcpu.Kvm.Run(); }
            finally { kicker.Detach(); }
        });
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a kick sent before KVM_RUN was lost");
        Assert.Equal(KvmVcpu.RunStatus.Interrupted, status);
    }

    [Fact]
    public void InterruptInjectedThroughTheWindowReachesTheRealModeHandler()
    {
        // Handler at 0x7E00: out 0x80,al ; iret.  Main: sti ; jmp $.  IVT[0x20] = 0000:7E00.
        _vm.Memory.Write(0x7E00, [0xE6, 0x80, 0xCF]);
        _vm.Memory.WriteUInt16(0x20 * 4, 0x7E00);
        _vm.Memory.WriteUInt16(0x20 * 4 + 2, 0);
        var vcpu = LoadRealMode([0xFB, 0xEB, 0xFE]);
        var run = vcpu.Kvm.RunPage;
        run.RequestInterruptWindow = true;
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.IrqWindowOpen, run.ExitReason);
        Assert.True(run.ReadyForInterruptInjection && run.IfFlag);
        vcpu.Kvm.Interrupt(0x20);
        run.RequestInterruptWindow = false;
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.Io, run.ExitReason);
        Assert.Equal(0x80, run.IoPort);
    }

    [Fact]
    public void FilteredMsrReadsReachTheVmm()
    {
        // mov ecx,0x10 (IA32_TSC) ; rdmsr ; mov dx,0x80 ; out dx,eax ; hlt
        var vcpu = LoadRealMode([0x66, 0xB9, 0x10, 0x00, 0x00, 0x00, 0x0F, 0x32, 0xBA, 0x80, 0x00, 0x66, 0xEF, 0xF4]);
        var run = vcpu.Kvm.RunPage;
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.X86Rdmsr, run.ExitReason);
        Assert.Equal(0x10u, run.MsrIndex);
        run.MsrData = 0x1234_5678_9ABC;
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.Io, run.ExitReason);
        Assert.Equal(0x5678_9ABCu, BitConverter.ToUInt32(run.IoData));
    }

    [Fact]
    public void WithStateRoundTripsRegisters()
    {
        var vcpu = LoadRealMode([0xF4]);
        vcpu.WithState(s => { s.Regs.Rbx = 0x1234_5678; s.Regs.R15 = 42; });
        Assert.Equal((0x1234_5678UL, 42UL), vcpu.WithState(s => (s.Regs.Rbx, s.Regs.R15)));
        Assert.NotEmpty(vcpu.WithState(s => s.Msrs)); // the tracked MSRs this host supports are read
    }

    [Fact]
    public void WithStateIsRefusedWhileTheVcpuRuns()
    {
        var vm = _vm;
        var vcpu = LoadRealMode([0xEB, 0xFE]); // jmp $
        var platform = new IdlePlatform();
        var clock = new Determinism.HostMonotonicClock();
        using var events = new LiveHostEvents(clock, vcpu, () => false);
        var runner = new VcpuRunner(vcpu, platform, clock, events);
        var thread = new Thread(() => runner.Run());
        thread.Start();
        SpinWait.SpinUntil(() => vcpu.IsRunning, TimeSpan.FromSeconds(10));
        Assert.Throws<InvalidOperationException>(() => vcpu.WithState(s => s.Regs.Rip));
        platform.Stop = new RunOutcome(RunOutcomeKind.PowerOff, 0, "test");
        vcpu.Kick();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal(0x7C00UL, vcpu.WithState(s => s.Regs.Rip));
    }

    [Fact]
    public void CpuModelHidesReplayBreakingFeatures()
    {
        var entries = CpuModel.Build(_kvm.GetSupportedCpuid(), 0, 1);
        var leaf1 = entries.Single(e => e.Function == 1);
        Assert.Equal(0u, leaf1.Ecx & (1u << 30)); // RDRAND
        Assert.Equal(0u, leaf1.Ecx & (1u << 24)); // TSC-deadline
        Assert.Equal(0u, leaf1.Ecx & (1u << 21)); // x2APIC
        Assert.DoesNotContain(entries, e => e.Function >= 0x40000000 && e.Function < 0x50000000);
        var leaf7 = entries.Where(e => e.Function == 7 && e.Index == 0).ToArray();
        Assert.All(leaf7, e => Assert.Equal(0u, e.Ebx & (1u << 18))); // RDSEED
        Assert.Equal(entries.Select(e => (e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)),
            CpuModel.Build(_kvm.GetSupportedCpuid(), 0, 1).Select(e => (e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)));
    }
}
