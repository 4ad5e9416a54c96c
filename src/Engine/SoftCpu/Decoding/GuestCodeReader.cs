using Iced.Intel;

namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>
/// Lets Iced read guest code where it lies in host memory. Copying the rest of the page into an
/// array for every block decoded moved up to 4 KiB to decode a few instructions: a tenth of
/// the Linux boot's time. The bytes must stay mapped while a decoder reads them (guest RAM does).
/// </summary>
internal sealed unsafe class GuestCodeReader : CodeReader
{
    private byte* _bytes;
    private int _length;
    private int _position;

    /// <summary>Reads <paramref name="length"/> bytes from <paramref name="bytes"/> next, from the first.</summary>
    public void Reset(byte* bytes, int length)
    {
        _bytes = bytes;
        _length = length;
        _position = 0;
    }

    public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
}
