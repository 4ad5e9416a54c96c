using Iced.Intel;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// The x87 last-opcode value (FOP, SDM vol. 1, 8.1.10) of a decoded instruction: bits 10:8 are
/// the low three bits of its first opcode byte (D8-DF), bits 7:0 its ModR/M byte. The decoded
/// form does not keep the ModR/M byte, so the instruction is encoded again; it is asked for
/// only when the state is saved, not at every instruction.
/// </summary>
internal static class X87Opcode
{
    [ThreadStatic] private static ByteBuffer? _buffer;

    public static ushort Of(in Instruction instruction)
    {
        var buffer = _buffer ??= new ByteBuffer();
        buffer.Length = 0;
        int bitness = instruction.CodeSize switch { CodeSize.Code16 => 16, CodeSize.Code32 => 32, _ => 64 };
        var encoder = Encoder.Create(bitness, buffer);
        if (!encoder.TryEncode(instruction, instruction.IP, out _, out _)) return 0;
        for (int i = 0; i + 1 < buffer.Length; i++)
        {
            byte b = buffer.Bytes[i];
            if (b is >= 0xD8 and <= 0xDF) return (ushort)((b & 7) << 8 | buffer.Bytes[i + 1]);
        }
        return 0;
    }

    private sealed class ByteBuffer : CodeWriter
    {
        public readonly byte[] Bytes = new byte[16];
        public int Length;

        public override void WriteByte(byte value)
        {
            if (Length < Bytes.Length) Bytes[Length++] = value;
        }
    }
}
