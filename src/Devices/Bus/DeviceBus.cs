namespace VmReplay.Devices.Bus;

/// <summary>
/// A sorted map of non-overlapping address ranges to devices (after Firecracker's
/// <c>vstate/bus.rs</c>). An access goes to the device whose range holds its first byte,
/// with the offset inside that range; an access nobody claims reads all-ones and is counted.
/// </summary>
public class DeviceBus
{
    private readonly List<(AddressRange Range, string Name, IBusDevice Device)> _entries = new();
    private readonly Dictionary<ulong, long> _unmappedReads = new();
    private readonly Dictionary<ulong, long> _unmappedWrites = new();

    public DeviceBus(string name) => Name = name;

    /// <summary>The bus's name in reports ("I/O port", "MMIO").</summary>
    public string Name { get; }

    /// <summary>Registers <paramref name="device"/> at <paramref name="range"/>; throws <see cref="BusOverlapException"/> on overlap.</summary>
    public void Register(AddressRange range, string name, IBusDevice device)
    {
        if (range.Length == 0)
            throw new ArgumentException($"empty range for {name}", nameof(range));
        foreach (var e in _entries)
        {
            if (e.Range.Overlaps(range))
                throw new BusOverlapException($"{Name} bus: {name} at {range} overlaps {e.Name} at {e.Range}");
        }
        int at = _entries.FindIndex(e => e.Range.Base > range.Base);
        _entries.Insert(at < 0 ? _entries.Count : at, (range, name, device));
    }

    /// <summary>Registered devices in address order.</summary>
    public IEnumerable<(AddressRange Range, string Name, IBusDevice Device)> Devices => _entries;

    /// <summary>Accesses to addresses no device claims, by address: (reads, writes).</summary>
    public IReadOnlyDictionary<ulong, long> UnmappedReads => _unmappedReads;

    public IReadOnlyDictionary<ulong, long> UnmappedWrites => _unmappedWrites;

    /// <summary>Finds the device holding <paramref name="address"/>, or null.</summary>
    public (IBusDevice Device, ulong Offset, string Name)? Resolve(ulong address)
    {
        // Binary search over sorted, disjoint ranges.
        int lo = 0, hi = _entries.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            var e = _entries[mid];
            if (address < e.Range.Base) hi = mid - 1;
            else if (address >= e.Range.End) lo = mid + 1;
            else return (e.Device, address - e.Range.Base, e.Name);
        }
        return null;
    }

    /// <summary>Reads from the device at <paramref name="address"/>; returns false (and all-ones) if none.</summary>
    public bool Read(ulong address, Span<byte> data)
    {
        var hit = Resolve(address);
        if (hit is null)
        {
            data.Fill(0xFF);
            _unmappedReads[address] = _unmappedReads.GetValueOrDefault(address) + 1;
            return false;
        }
        hit.Value.Device.Read(hit.Value.Offset, data);
        return true;
    }

    /// <summary>Writes to the device at <paramref name="address"/>; returns false (write dropped) if none.</summary>
    public bool Write(ulong address, ReadOnlySpan<byte> data)
    {
        var hit = Resolve(address);
        if (hit is null)
        {
            _unmappedWrites[address] = _unmappedWrites.GetValueOrDefault(address) + 1;
            return false;
        }
        hit.Value.Device.Write(hit.Value.Offset, data);
        return true;
    }
}
