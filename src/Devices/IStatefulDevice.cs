namespace VmReplay.Devices;

/// <summary>
/// A device whose complete state is a plain record: <see cref="SaveState"/> then
/// <see cref="RestoreState"/> into a freshly built device gives one that behaves identically.
/// Snapshots are made of nothing else.
/// </summary>
public interface IStatefulDevice<TState> where TState : class
{
    TState SaveState();

    void RestoreState(TState state);
}
