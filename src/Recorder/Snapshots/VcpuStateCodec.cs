using System.Buffers.Binary;
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
        var w = new MemoryStream();
        Put(w, s.Regs);
        Put(w, s.Sregs);
        Put(w, s.Fpu);
        Put(w, s.Xsave);
        Put(w, s.Xcrs);
        Put(w, s.Events);
        Put(w, s.DebugRegs);
        Span<byte> b = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(b, s.MpState);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)s.Msrs.Count);
        w.Write(b[..8]);
        // By index, sorted in place rather than with LINQ's OrderBy: its sorter over the
        // dictionary's pairs was compiled by the JIT at every recording's first snapshot.
        var indexes = new uint[s.Msrs.Count];
        s.Msrs.Keys.CopyTo(indexes, 0);
        Array.Sort(indexes);
        foreach (uint index in indexes)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, index);
            BinaryPrimitives.WriteUInt64LittleEndian(b[4..], s.Msrs[index]);
            w.Write(b);
        }
        return w.ToArray();
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

    private static void Put<T>(Stream w, in T value) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(size, bytes.Length);
        w.Write(size);
        w.Write(bytes);
    }

    private static void Get<T>(ReadOnlySpan<byte> data, ref int at, ref T value, string name) where T : unmanaged
    {
        int expected = Marshal.SizeOf<T>();
        if (data.Length - at < 4) throw new FormatException($"vCPU state ends before {name}");
        int size = BinaryPrimitives.ReadInt32LittleEndian(data[at..]);
        if (size != expected) throw new FormatException($"vCPU state holds a {size}-byte {name}; this build's is {expected} bytes");
        if (data.Length - at - 4 < size) throw new FormatException($"vCPU state ends inside {name}");
        value = MemoryMarshal.Read<T>(data.Slice(at + 4, size));
        at += 4 + size;
    }
}
