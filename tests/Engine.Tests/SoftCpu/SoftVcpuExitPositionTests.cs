using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// A software vCPU's exits say where it stopped (<see cref="VcpuExit.HasPosition"/>): what a
/// recording and a replay take from the exit instead of asking the vCPU must be what the vCPU
/// says, at every kind of exit, before and after the VMM handled it.
/// </summary>
public sealed class SoftVcpuExitPositionTests
{
    [Fact]
    public void EveryExitCarriesTheRipAndCountTheVcpuReports()
    {
        uint mmio = 0xFEC0_0000; // past RAM: an MMIO exit
        using var machine = new SoftCpuMachine(32, a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 3);
            a.Label(ref loop);
            a.mov(al, 0x41);
            a.@out(0x80, al);
            a.@in(al, 0x71);
            a.add(eax, ecx);
            a.mov(ebx, mmio);
            a.mov(__dword_ptr[ebx], eax);
            a.mov(edx, __dword_ptr[ebx + 4]);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var vcpu = new SoftVcpu(0, machine.Cpu);
        var kinds = new List<VcpuExitKind>();
        while (true)
        {
            var exit = vcpu.Run();
            Assert.True(exit.HasPosition);
            Assert.Equal(vcpu.ReadInstructionPointer(), exit.Rip);
            Assert.Equal(vcpu.InstructionsRetired, exit.Instructions);
            kinds.Add(exit.Kind);
            if (exit.Kind == VcpuExitKind.Halt) break;
            Assert.True(exit.Kind is VcpuExitKind.PortIo or VcpuExitKind.Mmio, $"exit {exit.Kind}");
            // The VMM's answer to a read changes neither.
            if (!exit.IsWrite) exit.Data.Fill(0x5A);
            Assert.Equal(vcpu.ReadInstructionPointer(), exit.Rip);
            Assert.Equal(vcpu.InstructionsRetired, exit.Instructions);
        }
        Assert.Equal(3 * 4 + 1, kinds.Count);
        // The next exit's position moved on with the guest.
        Assert.Equal([VcpuExitKind.PortIo, VcpuExitKind.PortIo, VcpuExitKind.Mmio, VcpuExitKind.Mmio], kinds.Take(4));
    }

    [Fact]
    public void AnExitsFirstElementIsItsDataPackedWhateverAWiderAccessLeftInTheBuffer()
    {
        // The software CPU's exit reads the element from its 8-byte buffer and masks it to the
        // access's size: a byte after a dword, and a read answered with fewer bytes than the
        // buffer holds, must give what packing the exit's data gives.
        using var machine = new SoftCpuMachine(32, a =>
        {
            a.mov(eax, 0xDEAD_BEEF);
            a.@out(0x80, eax);
            a.mov(al, 0x12);
            a.@out(0x80, al);
            a.mov(eax, 0x1234_5678);
            a.mov(dx, 0x3F8);
            a.@out(dx, ax);
            a.@in(al, 0x71);
            a.@in(ax, 0x71);
            a.@in(eax, 0x71);
            a.hlt();
        });
        var vcpu = new SoftVcpu(0, machine.Cpu);
        var seen = new List<(int Size, ulong Element)>();
        byte answer = 0x90;
        while (true)
        {
            var exit = vcpu.Run();
            if (exit.Kind == VcpuExitKind.Halt) break;
            Assert.Equal(VcpuExitKind.PortIo, exit.Kind);
            if (!exit.IsWrite)
                foreach (ref var b in exit.Data) b = answer++;
            Assert.Equal(Engine.Run.PortExitPrediction.Pack(exit.Data), exit.FirstElement);
            seen.Add((exit.Size, exit.FirstElement));
        }
        Assert.Equal([(4, 0xDEAD_BEEFUL), (1, 0x12UL), (2, 0x5678UL), (1, 0x90UL), (2, 0x9291UL), (4, 0x9695_9493UL)], seen);
    }

    [Fact]
    public void AStopAskedForAtTheCountTheVcpuStandsAtEndsTheRunThereOnceTheExitsInstructionIsComplete()
    {
        // A run loop that completes an exit's instruction before it arms (a debugger's) asks for
        // a recorded point right after that instruction at the count the vCPU already stands at:
        // the run ends there at once, as the recording's run did after completing it. With the
        // instruction still pending, the same request means nothing (the count moves past it).
        using var machine = new SoftCpuMachine(32, a =>
        {
            a.@out(0x80, al);
            a.inc(eax);
            a.inc(eax);
            a.hlt();
        });
        var vcpu = new SoftVcpu(0, machine.Cpu);
        Assert.Equal(VcpuExitKind.PortIo, vcpu.Run().Kind);
        Assert.Equal(0, vcpu.InstructionsRetired);
        vcpu.CompletePendingInstruction();
        Assert.Equal(1, vcpu.InstructionsRetired);
        vcpu.StopAtInstruction(1);
        var exit = vcpu.Run();
        Assert.Equal((VcpuExitKind.Scheduled, 1L), (exit.Kind, vcpu.InstructionsRetired!.Value));
        // Asked again after the stop there, the run moves on.
        vcpu.StopAtInstruction(2);
        Assert.Equal((VcpuExitKind.Scheduled, 2L), (vcpu.Run().Kind, vcpu.InstructionsRetired!.Value));
        vcpu.StopAtInstruction(null);
        Assert.Equal(VcpuExitKind.Halt, vcpu.Run().Kind);
    }

    [Fact]
    public void AStopAskedForAtTheCountOfAPendingInstructionIsPassed()
    {
        using var machine = new SoftCpuMachine(32, a =>
        {
            a.@out(0x80, al);
            a.inc(eax);
            a.hlt();
        });
        var vcpu = new SoftVcpu(0, machine.Cpu);
        Assert.Equal(VcpuExitKind.PortIo, vcpu.Run().Kind);
        vcpu.StopAtInstruction(0);
        Assert.Equal(VcpuExitKind.Halt, vcpu.Run().Kind);
        Assert.Equal(3, vcpu.InstructionsRetired); // out, inc, hlt
    }
}
