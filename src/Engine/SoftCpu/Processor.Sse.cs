using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu.SseFloat;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The SSE unit's state: XMM0-15 and MXCSR, the checks every SSE instruction begins with, the
/// way its floating-point exceptions end (flags, #XM or #UD), and 128-bit memory access.
/// </summary>
public sealed unsafe partial class Processor
{
    /// <summary>XMM0-15, 16 bytes each.</summary>
    // Sixteen bytes of our own rather than Vector128: a framework struct outside the ReadyToRun
    // version bubble left the whole Processor's layout unfixed there, and the precompiled code of
    // every instruction handler loaded each register's field offset from a table before using
    // it (PrecompiledLayoutTests). XmmRegister reads them as Vector128 all the same.
    [InlineArray(16)]
    internal struct XmmRegisters
    {
        private XmmBytes _first;
    }

    [StructLayout(LayoutKind.Sequential, Size = 16)]
    private struct XmmBytes;

    internal XmmRegisters Xmm;

    /// <summary>MXCSR (reserved bits always clear).</summary>
    internal uint Mxcsr;

    internal const byte SimdFloatingPointExceptionVector = 19;

    /// <summary>XMM register <paramref name="index"/> (0-15), by reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref Vector128<byte> XmmRegister(int index) =>
        ref Unsafe.Add(ref Unsafe.As<XmmRegisters, Vector128<byte>>(ref Xmm), index);

    /// <summary>Quadword <paramref name="lane"/> (0-1) of XMM register <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref ulong XmmQword(int index, int lane) =>
        ref Unsafe.Add(ref Unsafe.As<Vector128<byte>, ulong>(ref XmmRegister(index)), lane);

    /// <summary>Doubleword <paramref name="lane"/> (0-3) of XMM register <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref uint XmmDword(int index, int lane) =>
        ref Unsafe.Add(ref Unsafe.As<Vector128<byte>, uint>(ref XmmRegister(index)), lane);

    partial void SaveSse(ref FpuRegisters fpu)
    {
        var xmm = MemoryMarshal.CreateSpan(ref fpu.Xmm[0], 256);
        for (int i = 0; i < 16; i++) XmmRegister(i).CopyTo(xmm.Slice(16 * i, 16));
        fpu.Mxcsr = Mxcsr;
    }

    partial void LoadSse(in FpuRegisters fpu)
    {
        var xmm = MemoryMarshal.CreateReadOnlySpan(in fpu.Xmm[0], 256);
        for (int i = 0; i < 16; i++) XmmRegister(i) = Vector128.Create(xmm.Slice(16 * i, 16));
        Mxcsr = fpu.Mxcsr & MxcsrBits.Writable;
    }

    /// <summary>
    /// The checks of an SSE/SSE2 instruction before anything else (SDM vol. 3A, 13.1.3, table
    /// 13-1; vol. 2, 2.5): CR0.EM set or CR4.OSFXSR clear raise #UD, then CR0.TS set raises #NM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckSse()
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) == 0 && (Cr4 & Cr4Osfxsr) != 0) return;
        if ((Cr0 & Cr0Em) != 0 || (Cr4 & Cr4Osfxsr) == 0) throw Ud();
        throw DeviceNotAvailable();
    }

    /// <summary>
    /// Ends the floating-point part of an SSE instruction whose operations detected
    /// <paramref name="status"/>'s conditions, before it writes its destination. With every
    /// detected exception masked, the flags join MXCSR's. Otherwise (SDM vol. 1, 11.5.1) an
    /// unmasked pre-computation exception (#I, #D, #Z) sets only the pre-computation flags, an
    /// unmasked post-computation one all of them, and the instruction ends with #XM, or #UD
    /// when CR4.OSXMMEXCPT is clear, leaving its destination as it was.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CompleteFloat(in FloatStatus status)
    {
        uint flags = status.Flags;
        uint unmasked = flags & ~(Mxcsr >> MxcsrBits.MaskShift) & MxcsrBits.AllFlags;
        if (unmasked != 0) RaiseFloatException(flags, unmasked);
        Mxcsr |= flags;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RaiseFloatException(uint flags, uint unmasked)
    {
        Mxcsr |= (unmasked & MxcsrBits.PreComputationFlags) != 0 ? flags & MxcsrBits.PreComputationFlags : flags;
        throw (Cr4 & Cr4Osxmmexcpt) != 0 ? new GuestException(SimdFloatingPointExceptionVector, null) : Ud();
    }

    /// <summary>The status an SSE floating-point operation starts from: the current MXCSR, no flags.</summary>
    internal FloatStatus FloatStatus => new(Mxcsr);

    /// <summary>Reads 16 bytes; <paramref name="aligned"/> forms raise #GP(0) on an address that is not a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Vector128<byte> Read128(ulong la, bool aligned)
    {
        if (aligned && (la & 15) != 0) throw Gp();
        bool answerWaiting = _mmioAnswerReady;
        ulong low = Read64(la);
        if (answerWaiting && !_mmioAnswerReady) return Vector128.Create(low, SecondMmioHalf(la)).AsByte();
        return Vector128.Create(low, Read64((la + 8) & LinearMask)).AsByte();
    }

    // The first half was an MMIO read the VMM answered. An exit carries one answer, so a second
    // MMIO half would exit again and again: that is reported instead of looping.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong SecondMmioHalf(ulong la)
    {
        try
        {
            return Read64((la + 8) & LinearMask);
        }
        catch (ExitRequest)
        {
            Exit.Clear();
            throw new NotEmulatedException($"a 16-byte SSE read of MMIO at {la:x}");
        }
    }

    /// <summary>Writes 16 bytes, both halves checked first so that a fault writes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write128(ulong la, Vector128<byte> value, bool aligned)
    {
        if (aligned && (la & 15) != 0) throw Gp();
        ProbeWrite(la, 16);
        var q = value.AsUInt64();
        Write64(la, q.GetElement(0));
        Write64((la + 8) & LinearMask, q.GetElement(1));
    }
}
