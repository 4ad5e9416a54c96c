using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Xen's XEN_ELFNOTE_PHYS32_ENTRY note (xen/include/public/elfnote.h): the physical address at
/// which a kernel wants to be entered in 32-bit protected mode through the PVH boot protocol.
/// Linux puts it in vmlinux when built with CONFIG_PVH (arch/x86/platform/pvh/head.S); its
/// descriptor is a <c>.quad</c> on x86-64 kernels and a <c>.long</c> on i386 ones, so both sizes are read.
/// </summary>
public static class PvhEntryNote
{
    public const uint Phys32EntryType = 18;

    /// <summary>The note's entry address, or null when the image has no such note.</summary>
    public static uint? Find(ReadOnlySpan<byte> image, ElfImage elf)
    {
        foreach (var segment in elf.NoteSegments)
        {
            // ElfImage checked that the segment's file bytes lie inside the image.
            var notes = image.Slice((int)segment.Offset, (int)segment.FileSize);
            // Name and descriptor each end padded to the segment's alignment (binutils' ELF_NOTE_DESC_OFFSET);
            // GNU tools use 4 even in ELF64, and 8 for notes such as .note.gnu.property.
            int align = segment.Alignment == 8 ? 8 : 4;
            long at = 0;
            while (notes.Length - at >= 12)
            {
                uint nameSize = U32(notes, at), descSize = U32(notes, at + 4), type = U32(notes, at + 8);
                long nameAt = at + 12;
                long descAt = Align(nameAt + nameSize, align);
                long next = Align(descAt + descSize, align);
                if (descAt + descSize > notes.Length) break; // a truncated note ends the list
                if (type == Phys32EntryType && nameSize == 4 && notes.Slice((int)nameAt, 4).SequenceEqual("Xen\0"u8))
                {
                    var desc = notes.Slice((int)descAt, (int)descSize);
                    if (descSize == 4) return U32(desc, 0);
                    if (descSize == 8 && U32(desc, 4) == 0) return U32(desc, 0);
                }
                at = next;
            }
        }
        return null;
    }

    private static long Align(long offset, int align) => (offset + align - 1) & -align;
    private static uint U32(ReadOnlySpan<byte> b, long o) => BinaryPrimitives.ReadUInt32LittleEndian(b[(int)o..]);
}
