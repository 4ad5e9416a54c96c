using System.Security.Cryptography;
using VmReplay.Engine.Kvm;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The guest pages written since the last <see cref="Reset"/>, from KVM's dirty log (the VM's
/// slots must log dirty pages), and a hash of their contents. Equal registers and an equal hash
/// at the same place in a run mean equal machine state, which is how a replay recognises a
/// recorded point that no exit marks.
/// </summary>
public sealed class DirtyPageTracker
{
    private readonly KvmVm _vm;
    private readonly GuestMemory _memory;
    private readonly ulong[][] _accumulated;
    private readonly ulong[][] _scratch;

    public DirtyPageTracker(KvmVm vm, GuestMemory memory)
    {
        _vm = vm;
        _memory = memory;
        _accumulated = memory.Regions.Select(r => new ulong[(r.Size / GuestMemory.PageSize + 63) / 64]).ToArray();
        _scratch = _accumulated.Select(a => new ulong[a.Length]).ToArray();
    }

    /// <summary>Folds KVM's dirty log (which this clears) into the pages written since the last reset.</summary>
    public void Accumulate()
    {
        for (int i = 0; i < _accumulated.Length; i++)
        {
            _vm.GetDirtyLog(_memory.Regions[i].Slot, _scratch[i]);
            for (int w = 0; w < _scratch[i].Length; w++) _accumulated[i][w] |= _scratch[i][w];
        }
    }

    /// <summary>Hash of the addresses and contents of every page written since the last reset.</summary>
    public ulong Hash()
    {
        Accumulate();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> address = stackalloc byte[8];
        for (int i = 0; i < _accumulated.Length; i++)
        {
            var region = _memory.Regions[i];
            for (int w = 0; w < _accumulated[i].Length; w++)
            {
                ulong bits = _accumulated[i][w];
                while (bits != 0)
                {
                    int b = System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    ulong gpa = region.GuestBase + (ulong)(w * 64 + b) * GuestMemory.PageSize;
                    BitConverter.TryWriteBytes(address, gpa);
                    sha.AppendData(address);
                    sha.AppendData(_memory.GetSpan(gpa, (int)GuestMemory.PageSize));
                }
            }
        }
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return BitConverter.ToUInt64(digest);
    }

    /// <summary>Starts a new interval: pages written from now on.</summary>
    public void Reset()
    {
        Accumulate();
        foreach (var a in _accumulated) Array.Clear(a);
    }
}
