using System.Buffers.Binary;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>Converts between an FXSAVE image (SDM vol. 1, 10.5.1) and the engine's <see cref="FpuRegisters"/>.</summary>
internal static unsafe class FxImage
{
    public static FpuRegisters ToKvmFpu(ReadOnlySpan<byte> fx)
    {
        var f = new FpuRegisters
        {
            Fcw = BinaryPrimitives.ReadUInt16LittleEndian(fx),
            Fsw = BinaryPrimitives.ReadUInt16LittleEndian(fx[2..]),
            Ftwx = fx[4],
            LastOpcode = BinaryPrimitives.ReadUInt16LittleEndian(fx[6..]),
            LastIp = BinaryPrimitives.ReadUInt64LittleEndian(fx[8..]),
            LastDp = BinaryPrimitives.ReadUInt64LittleEndian(fx[16..]),
            Mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(fx[24..]),
        };
        fx.Slice(32, 128).CopyTo(new Span<byte>(f.Fpr, 128));
        fx.Slice(160, 256).CopyTo(new Span<byte>(f.Xmm, 256));
        return f;
    }

    public static byte[] FromKvmFpu(FpuRegisters f)
    {
        var fx = new byte[512];
        BinaryPrimitives.WriteUInt16LittleEndian(fx, f.Fcw);
        BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(2), f.Fsw);
        fx[4] = f.Ftwx;
        BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(6), f.LastOpcode);
        BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(8), f.LastIp);
        BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(16), f.LastDp);
        BinaryPrimitives.WriteUInt32LittleEndian(fx.AsSpan(24), f.Mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(fx.AsSpan(28), 0xFFFF); // MXCSR_MASK: not compared
        new ReadOnlySpan<byte>(f.Fpr, 128).CopyTo(fx.AsSpan(32));
        new ReadOnlySpan<byte>(f.Xmm, 256).CopyTo(fx.AsSpan(160));
        return fx;
    }
}
