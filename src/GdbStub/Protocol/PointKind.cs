namespace VmReplay.GdbStub.Protocol;

/// <summary>The type digit of a Z/z packet.</summary>
public enum PointKind
{
    Software = 0,
    Hardware = 1,
    Write = 2,
    Read = 3,
    Access = 4,
}
