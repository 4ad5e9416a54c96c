using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Tests.Memory;

/// <summary>A file read into huge-page-advised memory is the file, whatever its size.</summary>
public sealed class FileContentsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-file-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData((4 << 20) - 1)]
    [InlineData(4 << 20)]
    [InlineData((4 << 20) + 12_345)]
    [InlineData((9 << 20) + 7)]
    public void ReadsWhatReadAllBytesReads(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        string path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, bytes);
        Assert.Equal(bytes, FileContents.Read(path));
    }

    [Fact]
    public void AMissingFileIsReadAllBytesError()
    {
        Assert.Throws<FileNotFoundException>(() => FileContents.Read(Path.Combine(_dir, "absent")));
        Assert.Throws<DirectoryNotFoundException>(() => FileContents.Read(Path.Combine(_dir, "no", "such")));
    }
}
