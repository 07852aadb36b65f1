using System;
using System.IO;

namespace Graph.Runtime.Checkpoints;

/// <summary>Whole-file replacement that never leaves a half-written file under the final name.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes to a temporary file in the same directory (so the final rename stays on one file
    /// system), flushes it to disk, then renames it over <paramref name="path"/>. If
    /// <paramref name="writeContent"/> throws, the temporary file is deleted and an existing file at
    /// <paramref name="path"/> is left untouched. The rename is atomic on POSIX file systems and
    /// NTFS; the directory entry itself is not fsync'ed (.NET has no portable way to do so).
    /// </summary>
    public static void Write(string path, Action<Stream> writeContent)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(writeContent);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                writeContent(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
