using VmReplay.Engine.Memory;

namespace VmReplay.Replayer;

/// <summary>
/// A watched guest range: <paramref name="Address"/> as the debugger named it (guest-virtual) and
/// the guest-physical bytes it maps to at the time it was set, one piece per page.
/// </summary>
public sealed record WatchedRange(ulong Address, int Length, IReadOnlyList<(ulong Gpa, int Length)> Physical)
{
    public bool Overlaps(ulong gpa, int length) =>
        Physical.Any(p => gpa < p.Gpa + (ulong)p.Length && p.Gpa < gpa + (ulong)length);

    public IEnumerable<ulong> Pages() =>
        Physical.SelectMany(p => Enumerable.Range(0, (int)((p.Gpa % GuestMemory.PageSize + (ulong)p.Length + GuestMemory.PageSize - 1) / GuestMemory.PageSize))
            .Select(i => (p.Gpa & ~(GuestMemory.PageSize - 1)) + (ulong)i * GuestMemory.PageSize));
}
