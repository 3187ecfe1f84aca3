using System.Data.Common;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// The database engine under the stores: how to connect, and the few places where SQLite and PostgreSQL spell the same
/// query differently. Every query is otherwise the same text on both (standard SQL, <c>@name</c> parameters, upserts
/// by <c>ON CONFLICT</c>, <c>RETURNING</c>).
/// </summary>
public abstract class StoreEngine
{
    /// <summary>Where the data is, for messages: the file, or the server and database (never a password).</summary>
    public abstract string Where { get; }

    /// <param name="busySeconds">How long a statement waits for another writer's lock.</param>
    public abstract DbConnection Connect(int busySeconds);

    /// <summary>The one connection the store writes recorded batches on.</summary>
    /// <param name="busySeconds">How long a statement waits for another writer's lock.</param>
    public virtual DbConnection ConnectWriter(int busySeconds) => Connect(busySeconds);

    /// <summary>After a transaction on the writer's connection, on the writer's thread, before its next one. Never throws.</summary>
    public virtual void Written(DbConnection writer)
    {
    }

    /// <summary>A JSON array (as text) of one object per row, from <c>'key', value, …</c> pairs, in <paramref name="order"/>.</summary>
    public abstract string JsonArray(string pairs, string order);

    /// <summary>The larger of two numbers.</summary>
    public abstract string Greatest(string a, string b);

    /// <summary>Case-insensitive (at least for ASCII) <c>LIKE</c>.</summary>
    public abstract string LikeIgnoringCase { get; }

    /// <summary>An ORDER BY term sorting text by its characters, ignoring case; may ready the connection for it.</summary>
    public abstract string OrderIgnoringCase(DbConnection connection, string column);

    /// <summary>The column that keeps counters and samples in the order they were written.</summary>
    public abstract string WrittenOrder { get; }

    /// <summary>The insert broke a UNIQUE or PRIMARY KEY constraint.</summary>
    public abstract bool IsDuplicate(DbException e);

    /// <summary>Why a write failed, in words an operator acts on.</summary>
    public abstract string DescribeWriteFailure(DbException e);

    /// <summary>Before 10 ms rows are written: make room for them (PostgreSQL: their days' partitions).</summary>
    public virtual void BeforeBuckets(DbConnection connection, DbTransaction transaction, IReadOnlyList<DropRow> rows)
    {
    }

    /// <summary>Inserts rows of one kind on the writer's connection, in statements of many rows.</summary>
    /// <param name="head">Up to <c>VALUES</c>: <c>INSERT INTO t (a, b)</c>.</param>
    /// <param name="tail">After the rows: an <c>ON CONFLICT</c> clause, or empty.</param>
    /// <param name="bind">Adds one row's values, in column order.</param>
    internal abstract IRowWriter<T> Rows<T>(DbConnection connection, string head, int columns, string tail, Action<T, RowValues> bind);

    /// <summary>How drop rows are upserted into <paramref name="table"/>, when the engine has a faster way than <see cref="Rows{T}"/>.</summary>
    /// <param name="stored">Called with rows as the table holds them after the upsert: at least every row that was there before.</param>
    internal virtual IRowWriter<DropRow>? DropRows(DbConnection connection, string table, string time, Action<DropRow>? stored = null) => null;

    /// <summary>A writing transaction failed (<paramref name="failure"/>): what it made may not exist; connections may be gone.</summary>
    public virtual void Forget(Exception failure)
    {
    }

    /// <summary>
    /// Retention, the cheap way, at each pass on the writer's connection: removes whole stretches of 10 ms rows that all start before <paramref name="beforeMs"/>
    /// (PostgreSQL: a day's partition), keeping each host's row count right. Rows left are deleted one by one after it.
    /// </summary>
    /// <returns>The rows removed.</returns>
    public virtual long DropBucketsBefore(DbConnection connection, long beforeMs) => 0;
}
