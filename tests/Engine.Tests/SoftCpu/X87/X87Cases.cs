using System.Buffers.Binary;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// Differential cases that start from a given x87 state: control word, TOP, which stack
/// registers hold values (ST(0) up) and their values, put in the FXSAVE image the case starts
/// from; RBX points at the data buffer for memory operands. They compare the x87 state (FCW,
/// FSW with TOP and the condition codes and flags, the abridged tags, ST0-7) with the rest.
/// </summary>
internal static class X87Cases
{
    public static DifferentialCase Of(Action<Assembler> emit, ushort fcw, params Float80[] stack) => Of(emit, fcw, top: 5, stack);

    /// <summary>
    /// A case of the instruction <paramref name="emit"/> assembles, from ST(i) = stack[i] with
    /// TOP = <paramref name="top"/>, the status word's other bits <paramref name="statusFlags"/>;
    /// of the registers holding a value only those with their physical bit in <paramref name="validTags"/> stay valid.
    /// </summary>
    public static DifferentialCase Of(Action<Assembler> emit, ushort fcw, int top, Float80[] stack, ushort statusFlags = 0, byte validTags = 0xFF)
    {
        var plain = DifferentialCase.Of(emit);
        string state = $"fcw={fcw:x4} top={top} fsw={statusFlags:x4} valid={validTags:x2} " + string.Join(" ", stack.Select((v, i) => $"st{i}={v}"));
        var c = new DifferentialCase(plain.Code, $"{plain.Text} [{state}]").PointAt(Register.RBX, 0x100).Comparing(StateParts.Fpu);
        return WithStack(c, fcw, top, stack, statusFlags, validTags);
    }

    /// <summary>Loads the x87 part of the case's FXSAVE image: ST(i) = stack[i], every other register empty.</summary>
    public static DifferentialCase WithStack(DifferentialCase c, ushort fcw, int top, Float80[] stack, ushort statusFlags = 0, byte validTags = 0xFF)
    {
        return c.WithFx(fx =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(fx, fcw);
            BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(2), (ushort)(statusFlags | top << 11));
            int tags = 0;
            for (int i = 0; i < stack.Length; i++)
            {
                tags |= 1 << ((top + i) & 7);
                stack[i].WriteBytes(fx.AsSpan(32 + 16 * i, 10));
            }
            fx[4] = (byte)(tags & validTags);
        });
    }

    /// <summary>The names of the rounding modes, by RC.</summary>
    public static readonly string[] RoundingNames = ["nearest", "down", "up", "toward zero"];
}
