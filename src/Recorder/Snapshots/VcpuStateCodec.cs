using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Vm;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// A vCPU's state as bytes: each KVM structure exactly as linux/kvm.h lays it out, behind its
/// size (so a reader built against different structures refuses the data instead of misreading
/// it), then the MP state and the tracked MSRs. traces/FORMAT.md, "SNAP payload".
/// </summary>
public static class VcpuStateCodec
{
    public static byte[] Encode(VcpuState s)
    {
        var data = new byte[EncodedSize(s)];
        Write(s, data);
        return data;
    }

    /// <summary>
    /// The length of <paramref name="s"/> encoded: known before it is written, so that a snapshot
    /// writes it in place. Encoded into a growing stream, every snapshot's vCPU state left 16 KB
    /// of discarded buffers behind it, on the recording's writer thread and at each check of a replay.
    /// </summary>
    public static int EncodedSize(VcpuState s) =>
        Blob(s.Regs) + Blob(s.Sregs) + Blob(s.Fpu) + Blob(s.Xsave) + Blob(s.Xcrs) + Blob(s.Events) + Blob(s.DebugRegs) + 8 + 12 * s.Msrs.Count;

    /// <summary>
    /// Whether <paramref name="a"/> and <paramref name="b"/> encode to the same bytes, as
    /// <see cref="Encode(VcpuState)"/> of each would say, in buffers rented for the comparison (a
    /// replay compares the vCPU with the recorded one at every snapshot).
    /// </summary>
    public static bool SameEncoding(VcpuState a, VcpuState b)
    {
        int n = EncodedSize(a);
        if (EncodedSize(b) != n) return false;
        var x = ArrayPool<byte>.Shared.Rent(n);
        var y = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            Write(a, x);
            Write(b, y);
            return x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(x);
            ArrayPool<byte>.Shared.Return(y);
        }
    }

    /// <summary>Writes <paramref name="s"/> encoded into the first <see cref="EncodedSize"/> bytes of <paramref name="into"/>.</summary>
    public static void Write(VcpuState s, Span<byte> into)
    {
        int at = 0;
        Put(into, ref at, s.Regs);
        Put(into, ref at, s.Sregs);
        Put(into, ref at, s.Fpu);
        Put(into, ref at, s.Xsave);
        Put(into, ref at, s.Xcrs);
        Put(into, ref at, s.Events);
        Put(into, ref at, s.DebugRegs);
        BinaryPrimitives.WriteUInt32LittleEndian(into[at..], s.MpState);
        BinaryPrimitives.WriteUInt32LittleEndian(into[(at + 4)..], (uint)s.Msrs.Count);
        at += 8;
        // By index, sorted in place rather than with LINQ's OrderBy: its sorter over the
        // dictionary's pairs was compiled by the JIT at every recording's first snapshot.
        Span<uint> indexes = s.Msrs.Count <= 64 ? stackalloc uint[s.Msrs.Count] : new uint[s.Msrs.Count];
        int n = 0;
        foreach (uint index in s.Msrs.Keys) indexes[n++] = index;
        indexes.Sort();
        foreach (uint index in indexes)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(into[at..], index);
            BinaryPrimitives.WriteUInt64LittleEndian(into[(at + 4)..], s.Msrs[index]);
            at += 12;
        }
    }

    /// <summary>Decodes <paramref name="data"/>; throws <see cref="FormatException"/> if it is not a vCPU state of this build's layout.</summary>
    public static VcpuState Decode(ReadOnlySpan<byte> data)
    {
        var s = new VcpuState();
        int at = 0;
        Get(data, ref at, ref s.Regs, "kvm_regs");
        Get(data, ref at, ref s.Sregs, "kvm_sregs");
        Get(data, ref at, ref s.Fpu, "kvm_fpu");
        Get(data, ref at, ref s.Xsave, "kvm_xsave");
        Get(data, ref at, ref s.Xcrs, "kvm_xcrs");
        Get(data, ref at, ref s.Events, "kvm_vcpu_events");
        Get(data, ref at, ref s.DebugRegs, "kvm_debugregs");
        if (data.Length - at < 8) throw new FormatException("vCPU state ends before its MSRs");
        s.MpState = BinaryPrimitives.ReadUInt32LittleEndian(data[at..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 4)..]);
        at += 8;
        if ((ulong)(data.Length - at) != count * 12UL) throw new FormatException($"vCPU state holds {data.Length - at} bytes for {count} MSRs");
        for (int i = 0; i < count; i++, at += 12)
            s.Msrs[BinaryPrimitives.ReadUInt32LittleEndian(data[at..])] = BinaryPrimitives.ReadUInt64LittleEndian(data[(at + 4)..]);
        return s;
    }

    private static int Blob<T>(in T value) where T : unmanaged => 4 + Unsafe.SizeOf<T>();

    private static void Put<T>(Span<byte> into, ref int at, in T value) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        BinaryPrimitives.WriteInt32LittleEndian(into[at..], bytes.Length);
        bytes.CopyTo(into[(at + 4)..]);
        at += 4 + bytes.Length;
    }

    // The size Put writes, and the bytes read as Put wrote them: Marshal.SizeOf and
    // MemoryMarshal.Read are generic code no precompiled image holds (with a marshalling stub
    // for the size), which every replay JIT-compiled as it read its first snapshot.
    private static void Get<T>(ReadOnlySpan<byte> data, ref int at, ref T value, string name) where T : unmanaged
    {
        int expected = Unsafe.SizeOf<T>();
        if (data.Length - at < 4) throw new FormatException($"vCPU state ends before {name}");
        int size = BinaryPrimitives.ReadInt32LittleEndian(data[at..]);
        if (size != expected) throw new FormatException($"vCPU state holds a {size}-byte {name}; this build's is {expected} bytes");
        if (data.Length - at - 4 < size) throw new FormatException($"vCPU state ends inside {name}");
        value = Unsafe.ReadUnaligned<T>(ref MemoryMarshal.GetReference(data.Slice(at + 4, size)));
        at += 4 + size;
    }
}
