namespace VmReplay.Engine.Memory;

/// <summary>What an access intends, for the permission checks of a page walk.</summary>
[Flags]
public enum PageAccess
{
    Read = 0,
    Write = 1,
    User = 2,
    Execute = 4,
}
