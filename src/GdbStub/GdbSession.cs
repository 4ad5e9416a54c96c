using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub;

/// <summary>
/// The protocol core's state for one gdb connection: turns each parsed command into calls on an
/// <see cref="IDebugTarget"/> and the replies to send. No I/O: a transport feeds it commands.
/// </summary>
public sealed class GdbSession(IDebugTarget target)
{
    /// <summary>The largest packet this stub accepts (announced as PacketSize).</summary>
    public const int MaxPacketSize = 0x4000;

    private const long Thread = 1;
    private readonly byte[] _targetXml = Encoding.UTF8.GetBytes(target.Registers.TargetXml());

    /// <summary>Set once gdb asked for QStartNoAckMode and was answered OK.</summary>
    public bool NoAck { get; private set; }

    /// <summary>The connection should close: gdb detached or killed the target.</summary>
    public bool Ended { get; private set; }

    /// <summary>gdb asked to kill the target: the replay should end rather than wait for another gdb.</summary>
    public bool Killed { get; private set; }

    /// <summary>The replies to <paramref name="command"/>, in order (empty when none is due).</summary>
    public IReadOnlyList<string> Handle(GdbCommand command)
    {
        switch (command)
        {
            case GdbCommand.QuerySupported:
                return [Reply.Supported(MaxPacketSize, ["qXfer:features:read+", "QStartNoAckMode+", "ReverseStep+", "ReverseContinue+", "hwbreak+", "vContSupported+"])];
            case GdbCommand.StartNoAckMode:
                NoAck = true;
                return [Reply.Ok];
            case GdbCommand.MustReplyEmpty:
                return [Reply.Empty];
            case GdbCommand.QueryAttached:
                return ["1"];
            case GdbCommand.QueryCurrentThread:
                return ["QC1"];
            case GdbCommand.HaltReason:
                return [StopReply(target.CurrentStop)];
            case GdbCommand.ThreadInfoFirst:
                return ["m1"];
            case GdbCommand.ThreadInfoNext:
                return ["l"];
            case GdbCommand.SetThread t:
                return [t.Thread is -1 or 0 or Thread ? Reply.Ok : Reply.Error(0x16)];
            case GdbCommand.ThreadAlive t:
                return [t.Thread == Thread ? Reply.Ok : Reply.Error(0x16)];
            case GdbCommand.Kill:
                Ended = Killed = true;
                return [];
            case GdbCommand.Detach:
                Ended = true;
                return [Reply.Ok];
            case GdbCommand.ReadRegisters:
                return [target.Registers.EncodeRegisters(target.ReadRegisters())];
            case GdbCommand.ReadRegister r:
                var regs = target.ReadRegisters();
                return [r.Number >= 0 && r.Number < regs.Count ? Hex.Encode(regs[r.Number]) : Reply.Error(0x16)];
            case GdbCommand.WriteRegisters or GdbCommand.WriteRegister or GdbCommand.WriteMemory:
                return [target.WriteRefusal is { } why ? Reply.ErrorMessage(why) : Reply.Error(0x01)];
            case GdbCommand.ReadMemory { Length: 0 }:
                // Zero bytes of hex is the empty reply, which gdb reads as "m is not supported":
                // a read of nothing is refused as invalid (EINVAL) instead.
                return [Reply.Error(0x16)];
            case GdbCommand.ReadMemory m:
                var (data, _) = target.ReadMemory(m.Address, Math.Min(m.Length, (MaxPacketSize - 8) / 2));
                return [data.Length > 0 ? Hex.Encode(data) : Reply.Error(0x0e)];
            case GdbCommand.Continue:
                return Stopped(target.Resume(Motion.Continue));
            case GdbCommand.Step:
                return Stopped(target.Resume(Motion.Step));
            case GdbCommand.ReverseContinue:
                return Stopped(target.Resume(Motion.ReverseContinue));
            case GdbCommand.ReverseStep:
                return Stopped(target.Resume(Motion.ReverseStep));
            case GdbCommand.VContQuery:
                return ["vCont;c;C;s;S;t"];
            case GdbCommand.VCont v:
                return VCont(v);
            case GdbCommand.InsertPoint z:
                if (!target.Supports(z.Kind)) return [Reply.Empty];
                return [target.InsertPoint(z.Kind, z.Address, z.Size) is { } refused ? Reply.ErrorMessage(refused) : Reply.Ok];
            case GdbCommand.RemovePoint z:
                if (!target.Supports(z.Kind)) return [Reply.Empty];
                return [target.RemovePoint(z.Kind, z.Address, z.Size) is { } failed ? Reply.ErrorMessage(failed) : Reply.Ok];
            case GdbCommand.MonitorCommand mc:
                string output = target.Monitor(mc.Text);
                if (!output.EndsWith('\n')) output += "\n";
                return [Reply.Output(output), Reply.Ok];
            case GdbCommand.XferRead x when x.Object == "features" && x.Annex == "target.xml":
                return [Reply.XferChunk(_targetXml, x.Offset, Math.Min(x.Length, MaxPacketSize - 8))];
            case GdbCommand.XferRead:
                return [Reply.Error(0x00)];
            case GdbCommand.Malformed:
                return [Reply.Error(0x16)];
            default:
                return [Reply.Empty];
        }
    }

    private IReadOnlyList<string> VCont(GdbCommand.VCont v)
    {
        // One thread: the action for thread 1 (or the default action) decides.
        var action = v.Actions.FirstOrDefault(a => a.Thread is null or -1 or Thread);
        if (action is null) return [Reply.Error(0x16)];
        return action.Kind switch
        {
            'c' or 'C' => Stopped(target.Resume(Motion.Continue)),
            's' or 'S' => Stopped(target.Resume(Motion.Step)),
            't' => [StopReply(target.CurrentStop with { Cause = StopCause.None, Signal = 0 })],
            _ => [Reply.Empty],
        };
    }

    private static string StopReply(TargetStop stop) =>
        Reply.StopReply(new StopReplyInfo(stop.Signal, Thread, stop.Cause, stop.WatchAddress));

    // The replies to a motion: its message as console output (gdb prints 'O' packets that
    // arrive while the target runs), then the stop reply.
    private static IReadOnlyList<string> Stopped(TargetStop stop) =>
        stop.Message is { Length: > 0 } message
            ? [Reply.Output(message.EndsWith('\n') ? message : message + "\n"), StopReply(stop)]
            : [StopReply(stop)];
}
