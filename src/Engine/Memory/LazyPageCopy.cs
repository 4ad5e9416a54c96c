namespace VmReplay.Engine.Memory;

/// <summary>
/// A copy of some guest pages as they are at one moment, made a page at a time: a page is copied
/// just before anything writes to it, and the others when <see cref="Complete"/> is called (the
/// trace writer, on its own thread). A snapshot's pages are then not copied on the vCPU thread
/// at its checkpoint, where the Linux boot's three took 6 to 7 ms, mostly page faults on the
/// fresh copy; the guest copies only what it writes before the writer gets there.
/// </summary>
/// <remarks>
/// Only where every write to RAM is seen first (<see cref="GuestMemory"/>'s own writes and a
/// software CPU's, which has no cached write translation left when the copy begins): made by the
/// backend (<see cref="Backend.IMachineBackend.CopyPagesLazily"/>). Each page is copied once, by
/// whichever thread claims it; a writer that finds it being copied waits until it is.
/// </remarks>
public sealed class LazyPageCopy
{
    private const int Pending = 0, Copying = 1, Copied = 2;
    private const int PageSize = (int)GuestMemory.PageSize;

    private readonly GuestMemory _memory;
    private readonly ulong[] _pages;
    private readonly int[] _state;
    private readonly byte[] _data;
    // One bit a page from the first page of the copy to its last: set while a write to that page
    // may still have to copy it first. A software CPU asks at every write translation it makes
    // while a copy is under way (the Linux boot's recording: 380,000 times, each a binary search
    // of a full snapshot's pages, 1.3% of its vCPU thread's instructions); nearly every answer is
    // now one bit. Cleared only once its page is copied.
    private readonly ulong _first;
    private readonly ulong[] _mayCopy;

    internal LazyPageCopy(GuestMemory memory, ulong[] pages)
    {
        for (int i = 1; i < pages.Length; i++)
            if (pages[i] <= pages[i - 1]) throw new ArgumentException("the pages must ascend", nameof(pages));
        _memory = memory;
        _pages = pages;
        _state = new int[pages.Length];
        _first = pages.Length > 0 ? pages[0] : 0;
        _mayCopy = new ulong[pages.Length > 0 ? ((pages[^1] - _first) / PageSize + 64) / 64 : 0];
        foreach (ulong page in pages)
        {
            ulong k = (page - _first) / PageSize;
            _mayCopy[k / 64] |= 1UL << (int)(k % 64);
        }
        // Every byte is copied over before anyone reads it.
        _data = GC.AllocateUninitializedArray<byte>(pages.Length * PageSize);
    }

    /// <summary>The pages copied (guest-physical addresses, ascending).</summary>
    public IReadOnlyList<ulong> Pages => _pages;

    /// <summary>Something is about to write to page <paramref name="page"/>: copy it first if it is one of these and not copied yet.</summary>
    internal void BeforeWrite(ulong page)
    {
        ulong k = (page - _first) / PageSize;
        if (k / 64 >= (ulong)_mayCopy.Length || (Volatile.Read(ref _mayCopy[k / 64]) & (1UL << (int)(k % 64))) == 0) return;
        int i = Array.BinarySearch(_pages, page);
        if (i < 0) return;
        CopyPage(i);
        Interlocked.And(ref _mayCopy[k / 64], ~(1UL << (int)(k % 64)));
    }

    /// <summary>
    /// Copies every page not copied yet, on this thread, and returns the copy: the pages' 4 KiB
    /// back to back, as they were when the copy began. Any thread; the copy stops watching writes.
    /// </summary>
    public byte[] Complete()
    {
        for (int i = 0; i < _pages.Length; i++) CopyPage(i);
        _memory.EndLazyCopy(this);
        return _data;
    }

    /// <summary>Stops watching writes without copying the rest: nothing will read this copy (the trace could not be written).</summary>
    public void Abandon() => _memory.EndLazyCopy(this);

    private void CopyPage(int i)
    {
        if (Volatile.Read(ref _state[i]) == Copied) return;
        if (Interlocked.CompareExchange(ref _state[i], Copying, Pending) == Pending)
        {
            _memory.GetSpan(_pages[i], PageSize).CopyTo(_data.AsSpan(i * PageSize, PageSize));
            Volatile.Write(ref _state[i], Copied);
            return;
        }
        // Another thread is copying it: the page may change only once that copy is done.
        var wait = new SpinWait();
        while (Volatile.Read(ref _state[i]) != Copied) wait.SpinOnce();
    }
}
