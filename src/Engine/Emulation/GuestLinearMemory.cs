using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// Linear-address reads and writes for the emulator, through the guest's page tables with the
/// permission checks of the access, raising #PF (with CR2) as the CPU would. Writes are staged
/// and applied only if the whole instruction completes, so a fault leaves memory unchanged.
/// </summary>
internal sealed class GuestLinearMemory(GuestMemory memory, VcpuState state)
{
    private readonly List<(ulong Physical, byte[] Data)> _pendingWrites = new();

    /// <summary>
    /// Told of every data access before it is made (linear address, size, whether a write, the
    /// value written): how a processor that watches its accesses sees those this emulation makes
    /// for it (an interrupt frame pushed, an IRET's pops).
    /// </summary>
    public Action<ulong, int, bool, ulong>? Accessed { get; init; }

    public void Read(ulong linear, Span<byte> destination, bool user, bool execute = false)
    {
        if (!execute) Accessed?.Invoke(linear, destination.Length, false, 0);
        var access = (user ? PageAccess.User : PageAccess.Read) | (execute ? PageAccess.Execute : PageAccess.Read);
        int done = 0;
        while (done < destination.Length)
        {
            ulong la = linear + (ulong)done;
            ulong pa = Translate(la, access, out ulong room);
            int n = (int)Math.Min(room, (ulong)(destination.Length - done));
            if (!memory.TryRead(pa, destination.Slice(done, n)))
                throw new NotEmulatedException($"access to {la:x} reaches guest-physical {pa:x}, which is not RAM");
            done += n;
        }
    }

    public void Write(ulong linear, ReadOnlySpan<byte> source, bool user)
    {
        if (Accessed is { } accessed)
        {
            Span<byte> value = stackalloc byte[8];
            value.Clear();
            source[..Math.Min(8, source.Length)].CopyTo(value);
            accessed(linear, source.Length, true, BitConverter.ToUInt64(value));
        }
        var access = PageAccess.Write | (user ? PageAccess.User : PageAccess.Read);
        int done = 0;
        while (done < source.Length)
        {
            ulong la = linear + (ulong)done;
            ulong pa = Translate(la, access, out ulong room);
            int n = (int)Math.Min(room, (ulong)(source.Length - done));
            if (!memory.IsRam(pa, (ulong)n))
                throw new NotEmulatedException($"access to {la:x} reaches guest-physical {pa:x}, which is not RAM");
            _pendingWrites.Add((pa, source.Slice(done, n).ToArray()));
            done += n;
        }
    }

    /// <summary>Checks that <paramref name="linear"/> may be written, without writing.</summary>
    public void ProbeWrite(ulong linear, int length, bool user)
    {
        var access = PageAccess.Write | (user ? PageAccess.User : PageAccess.Read);
        for (int done = 0; done < length;)
        {
            Translate(linear + (ulong)done, access, out ulong room);
            done += (int)Math.Min(room, (ulong)(length - done));
        }
    }

    public ulong ReadUInt(ulong linear, int size, bool user)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        Read(linear, b[..size], user);
        return BitConverter.ToUInt64(b);
    }

    public void Commit()
    {
        foreach (var (pa, data) in _pendingWrites) memory.Write(pa, data);
        _pendingWrites.Clear();
    }

    private ulong Translate(ulong linear, PageAccess access, out ulong room)
    {
        var t = PageWalker.Translate(memory, state.Paging, linear, access);
        switch (t.Status)
        {
            case PageTranslationStatus.Ok:
                room = t.BytesToPageEnd(linear);
                return t.PhysicalAddress;
            case PageTranslationStatus.PageFault:
                throw new GuestException(GuestException.PageFault, t.PageFaultErrorCode, linear);
            case PageTranslationStatus.NonCanonical:
                throw GuestException.Gp();
            default:
                throw new NotEmulatedException($"the page walk for {linear:x} failed ({t.Status})");
        }
    }
}
