using Iced.Intel;
using VmReplay.Engine.Memory;

namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>Decodes a block of guest code with Iced and precomputes each instruction's operands.</summary>
internal static unsafe class BlockDecoder
{
    /// <summary>
    /// Decodes from <paramref name="la"/>, whose bytes start at <paramref name="host"/>
    /// (physical <paramref name="physical"/>) and run to the end of the page;
    /// <paramref name="nextPage"/> supplies the rest of an instruction that crosses it (null when
    /// the next page cannot be fetched: such an instruction is left to a block of its own).
    /// The instructions are kept in <paramref name="arena"/>; null when it is full.
    /// </summary>
    public static Block? Decode(BlockKey key, ulong physical, byte* host, Func<(ulong Physical, nint Host)?> nextPage, DecodedInstructionArena arena)
    {
        int onPage = (int)(0x1000 - (key.Linear & 0xFFF));
        ulong start = key.Offset & (key.Bitness == 64 ? ulong.MaxValue : 0xFFFF_FFFF);
        var (decoder, reader) = DecoderFor(key.Bitness);
        reader.Reset(host, onPage);
        decoder.IP = start;
        var ops = t_ops ??= new List<DecodedInstruction>(Block.MaxInstructions);
        ops.Clear();
        var table = HandlerTable.Instance;
        ulong secondPage = Block.NoPage;
        int end = 0;
        while (ops.Count < Block.MaxInstructions)
        {
            int at = (int)(decoder.IP - start);
            if (at >= onPage) break;
            ulong ipBefore = decoder.IP;
            decoder.Decode(out var ins);
            // An instruction that runs alone starts a block of its own.
            if (ops.Count > 0 && table.IsAlone(ins.Code) && decoder.LastError != DecoderError.NoMoreBytes)
            {
                end = (int)(ipBefore - start);
                break;
            }
            if (decoder.LastError == DecoderError.NoMoreBytes)
            {
                // The instruction continues on the next page: decode it alone, from its bytes on
                // this page followed by the next page's first ones.
                if (ops.Count > 0) break;
                var next = nextPage();
                if (next is null) break;
                int here = Math.Min(onPage, 15);
                byte* joined = stackalloc byte[30];
                new ReadOnlySpan<byte>(host, here).CopyTo(new Span<byte>(joined, here));
                new ReadOnlySpan<byte>((byte*)next.Value.Host, 15).CopyTo(new Span<byte>(joined + here, 15));
                reader.Reset(joined, here + 15);
                decoder.IP = start;
                decoder.Decode(out ins);
                secondPage = next.Value.Physical;
                ops.Add(Prepare(ins, key.Bitness, table));
                end = onPage;
                break;
            }
            ops.Add(Prepare(ins, key.Bitness, table));
            end = at + ins.Length;
            if (ins.IsInvalid || ins.FlowControl != FlowControl.Next || table.EndsBlock(ins.Code)) break;
        }
        var stored = arena.TryStore(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ops));
        if (stored is null) return null;
        return new Block(key, physical, physical + (ulong)Math.Min(end, onPage), secondPage, stored, ops.Count);
    }

    // One decoder per bitness and thread, reading through a reader pointed at each block's bytes
    // in turn; and one list to collect a block's instructions before they are copied out.
    [ThreadStatic] private static (Iced.Intel.Decoder Decoder, GuestCodeReader Reader)[]? t_decoders;
    [ThreadStatic] private static List<DecodedInstruction>? t_ops;

    private static (Iced.Intel.Decoder, GuestCodeReader) DecoderFor(int bitness)
    {
        var decoders = t_decoders ??= new (Iced.Intel.Decoder, GuestCodeReader)[3];
        int slot = bitness switch { 16 => 0, 32 => 1, _ => 2 };
        if (decoders[slot].Decoder is null)
        {
            var reader = new GuestCodeReader();
            decoders[slot] = (Iced.Intel.Decoder.Create(bitness, reader), reader);
        }
        return decoders[slot];
    }

    /// <summary>Precomputes one instruction (also used to execute a single instruction outside a block).</summary>
    public static DecodedInstruction Prepare(in Instruction ins, int bitness, HandlerTable table)
    {
        var d = new DecodedInstruction
        {
            I = ins,
            Execute = table.HandlerOf(ins.Code),
            Reg0 = DecodedInstruction.NoRegister,
            Reg1 = DecodedInstruction.NoRegister,
            Reg2 = DecodedInstruction.NoRegister,
            Base = DecodedInstruction.NoRegister,
            Index = DecodedInstruction.NoRegister,
        };
        int count = Math.Min(ins.OpCount, 3);
        for (int i = 0; i < count; i++)
        {
            var kind = ins.GetOpKind(i);
            OperandKind k;
            byte reg = DecodedInstruction.NoRegister;
            int size = 0;
            switch (kind)
            {
                case OpKind.Register:
                    var r = ins.GetOpRegister(i);
                    reg = Gpr(r, out size);
                    k = reg == DecodedInstruction.NoRegister ? OperandKind.Other : OperandKind.Register;
                    break;
                case OpKind.Memory:
                    k = OperandKind.Memory;
                    size = ins.MemorySize.GetSize();
                    break;
                case OpKind.Immediate8:
                case OpKind.Immediate16:
                case OpKind.Immediate32:
                case OpKind.Immediate64:
                case OpKind.Immediate8to16:
                case OpKind.Immediate8to32:
                case OpKind.Immediate8to64:
                case OpKind.Immediate32to64:
                    k = OperandKind.Immediate;
                    d.Immediate = ins.GetImmediate(i);
                    size = kind switch
                    {
                        OpKind.Immediate8 => 1,
                        OpKind.Immediate16 or OpKind.Immediate8to16 => 2,
                        OpKind.Immediate32 or OpKind.Immediate8to32 => 4,
                        _ => 8,
                    };
                    break;
                case OpKind.NearBranch16:
                case OpKind.NearBranch32:
                case OpKind.NearBranch64:
                    k = OperandKind.Other;
                    d.Immediate = ins.NearBranchTarget;
                    break;
                default:
                    k = OperandKind.Other;
                    break;
            }
            switch (i)
            {
                case 0: d.Kind0 = k; d.Reg0 = reg; d.Size0 = (byte)size; break;
                case 1: d.Kind1 = k; d.Reg1 = reg; d.Size1 = (byte)size; break;
                default: d.Kind2 = k; d.Reg2 = reg; break;
            }
        }
        if (ins.ConditionCode != ConditionCode.None) d.Condition = (byte)(ins.ConditionCode - 1);
        // An immediate takes the size of the operand it combines with.
        if (d.Kind1 == OperandKind.Immediate && d.Size0 != 0) d.Size1 = d.Size0;
        if (HasMemoryOperand(ins))
        {
            var baseReg = ins.MemoryBase;
            if (baseReg is Register.RIP or Register.EIP)
                d.Displacement = ins.IPRelativeMemoryAddress; // an absolute address: the block's linear address is fixed
            else
            {
                d.Base = baseReg == Register.None ? DecodedInstruction.NoRegister : Gpr(baseReg, out _);
                d.Displacement = ins.MemoryDisplacement64;
            }
            d.Index = ins.MemoryIndex == Register.None ? DecodedInstruction.NoRegister : Gpr(ins.MemoryIndex, out _);
            d.Scale = (byte)System.Numerics.BitOperations.Log2((uint)ins.MemoryIndexScale);
            d.Segment = (byte)(ins.MemorySegment - Register.ES);
            d.AddressMask = AddressMask(ins, bitness);
        }
        else
        {
            d.Segment = (byte)(Register.DS - Register.ES);
            d.AddressMask = AddressMask(ins, bitness);
        }
        return d;
    }

    private static bool HasMemoryOperand(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
            if (ins.GetOpKind(i) == OpKind.Memory) return true;
        return false;
    }

    // The address size of the instruction (from the code size and a 67h prefix), as a mask.
    private static ulong AddressMask(in Instruction ins, int bitness)
    {
        int size;
        if (ins.MemoryBase is not (Register.None or Register.RIP or Register.EIP)) size = RegisterSize(ins.MemoryBase);
        else if (ins.MemoryIndex != Register.None) size = RegisterSize(ins.MemoryIndex);
        else if (ins.MemoryBase == Register.EIP) size = 32;
        else if (ins.MemoryBase == Register.RIP) size = 64;
        else if (StringAddressSize(ins) is int s and > 0) size = s;
        else if (HasMemoryOperand(ins))
        {
            // A displacement alone: only the decoder knows whether a 67h prefix shrank the address.
            size = Info.GetInfo(ins).GetUsedMemory().FirstOrDefault().AddressSize switch
            {
                CodeSize.Code16 => 16,
                CodeSize.Code32 => 32,
                CodeSize.Code64 => 64,
                _ => bitness,
            };
        }
        else size = bitness;
        return size switch { 16 => 0xFFFF, 32 => 0xFFFF_FFFF, _ => ulong.MaxValue };
    }

    [ThreadStatic] private static InstructionInfoFactory? _info;
    private static InstructionInfoFactory Info => _info ??= new InstructionInfoFactory();

    private static int StringAddressSize(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
        {
            switch (ins.GetOpKind(i))
            {
                case OpKind.MemorySegSI: case OpKind.MemorySegDI: case OpKind.MemoryESDI: return 16;
                case OpKind.MemorySegESI: case OpKind.MemorySegEDI: case OpKind.MemoryESEDI: return 32;
                case OpKind.MemorySegRSI: case OpKind.MemorySegRDI: case OpKind.MemoryESRDI: return 64;
            }
        }
        return 0;
    }

    private static int RegisterSize(Register r) => r switch
    {
        >= Register.AX and <= Register.R15W => 16,
        >= Register.EAX and <= Register.R15D or Register.EIP => 32,
        _ => 64,
    };

    /// <summary>
    /// The general register number (0-15, 16-19 for AH-BH) of <paramref name="r"/> and its size
    /// in bytes, or <see cref="DecodedInstruction.NoRegister"/> for other registers.
    /// </summary>
    public static byte Gpr(Register r, out int size)
    {
        switch (r)
        {
            case >= Register.AL and <= Register.BL: size = 1; return (byte)(r - Register.AL);
            case >= Register.AH and <= Register.BH: size = 1; return (byte)(16 + (r - Register.AH));
            case >= Register.SPL and <= Register.DIL: size = 1; return (byte)(4 + (r - Register.SPL));
            case >= Register.R8L and <= Register.R15L: size = 1; return (byte)(8 + (r - Register.R8L));
            case >= Register.AX and <= Register.R15W: size = 2; return (byte)(r - Register.AX);
            case >= Register.EAX and <= Register.R15D: size = 4; return (byte)(r - Register.EAX);
            case >= Register.RAX and <= Register.R15: size = 8; return (byte)(r - Register.RAX);
            default: size = 0; return DecodedInstruction.NoRegister;
        }
    }
}
