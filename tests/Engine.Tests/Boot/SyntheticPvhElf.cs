using System.Buffers.Binary;
using System.Text;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// An ELF executable built in memory with one PT_LOAD segment and a PT_NOTE segment holding a
/// GNU build-id note, a Xen note of another type, and (unless left out) Xen's PVH entry note,
/// laid out as a Linux vmlinux has them.
/// </summary>
internal sealed record SyntheticPvhElf
{
    public bool Is64 { get; init; } = true;
    public ushort Machine { get; init; } = 62;
    public ulong SegmentAddress { get; init; } = 0x100000;
    public ulong MemorySize { get; init; } = 0x2000;
    /// <summary>The PVH entry (XEN_ELFNOTE_PHYS32_ENTRY), or null for no such note.</summary>
    public ulong? PvhEntry { get; init; } = 0x100000;
    /// <summary>Descriptor size of the entry note: 8 as x86-64 Linux writes it (<c>.quad</c>), 4 for i386.</summary>
    public int EntryDescSize { get; init; } = 8;
    /// <summary>PT_NOTE p_align; 8 pads each name and descriptor to 8 bytes.</summary>
    public int NoteAlign { get; init; } = 4;

    /// <summary>
    /// The code at the entry, 32-bit protected mode: <c>mov eax, [ebx]; out 0x80, eax; hlt</c>,
    /// which reports the hvm_start_info magic.
    /// </summary>
    public byte[] Code { get; init; } = [0x8B, 0x03, 0xE7, 0x80, 0xF4];

    public byte[] Build()
    {
        int ehSize = Is64 ? 64 : 52, phSize = Is64 ? 56 : 32;
        var notes = new List<byte>();
        AddNote(notes, "GNU", 3, Enumerable.Range(1, 20).Select(i => (byte)i).ToArray());   // NT_GNU_BUILD_ID
        AddNote(notes, "Xen", 6, Encoding.ASCII.GetBytes("linux\0"));                      // XEN_ELFNOTE_GUEST_OS
        if (PvhEntry is { } entry)
        {
            var desc = new byte[EntryDescSize];
            if (EntryDescSize == 8) BinaryPrimitives.WriteUInt64LittleEndian(desc, entry);
            else BinaryPrimitives.WriteUInt32LittleEndian(desc, (uint)entry);
            AddNote(notes, "Xen", 18, desc);
        }
        int notesAt = ehSize + 2 * phSize;
        int codeAt = (notesAt + notes.Count + 15) & ~15;
        var b = new byte[codeAt + Code.Length];
        var s = b.AsSpan();
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = Is64 ? (byte)2 : (byte)1; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);          // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], Machine);
        if (Is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], 0xFFFF_FFFF_8100_0000); // the 64-bit entry, unused by PVH
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)ehSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[54..], (ushort)phSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 2);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], 0xC100_0000);
            BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)ehSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[42..], (ushort)phSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 2);
        }
        WriteProgramHeader(s[ehSize..], type: 1, (ulong)codeAt, 0xFFFF_FFFF_8100_0000, SegmentAddress, (ulong)Code.Length, MemorySize, 0x1000);
        WriteProgramHeader(s[(ehSize + phSize)..], type: 4, (ulong)notesAt, 0, 0, (ulong)notes.Count, (ulong)notes.Count, (ulong)NoteAlign);
        notes.ToArray().CopyTo(s[notesAt..]);
        Code.CopyTo(s[codeAt..]);
        return b;
    }

    private void WriteProgramHeader(Span<byte> ph, uint type, ulong offset, ulong vaddr, ulong paddr, ulong fileSize, ulong memSize, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(ph, type);
        if (Is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], offset);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], fileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], memSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], align);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], (uint)offset);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], (uint)vaddr);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], (uint)paddr);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)fileSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)memSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[28..], (uint)align);
        }
    }

    private void AddNote(List<byte> notes, string name, uint type, byte[] desc)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        var head = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)nameBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(4), (uint)desc.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(8), type);
        notes.AddRange(head);
        notes.AddRange(nameBytes);
        Pad(notes);
        notes.AddRange(desc);
        Pad(notes);
    }

    private void Pad(List<byte> notes)
    {
        while (notes.Count % NoteAlign != 0) notes.Add(0);
    }
}
