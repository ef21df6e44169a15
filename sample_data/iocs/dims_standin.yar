/* SYNTHETIC DEMO DATA - DIMS hospital ransomware case - not real. Matches the harmless ransomware stand-in of the demo case.
   Strings are written in hex so that this file does not match itself. */
rule DIMS_Synthetic_Ransomware_Standin
{
    meta:
        description = "DIMSLOCK ransomware stand-in (synthetic demo case, harmless text file)"
        author = "forensics demo generator"
        date = "2022-11-23"
        attack = "T1486"
        severity = "critical"
    strings:
        $marker = { 44 49 4D 53 2D 53 59 4E 54 48 45 54 49 43 2D 52 41 4E 53 4F 4D 2D 53 54 41 4E 44 49 4E 2D 35 63 31 65 39 61 37 37 }
        $ext = { 2E 64 69 6D 73 5F 6C 6F 63 6B 65 64 }
        $note = { 52 45 41 44 4D 45 5F 54 4F 5F 44 45 43 52 59 50 54 2E 74 78 74 }
        $msg = { 41 4C 4C 20 59 4F 55 52 20 46 49 4C 45 53 20 48 41 56 45 20 42 45 45 4E 20 45 4E 43 52 59 50 54 45 44 20 42 59 20 44 49 4D 53 4C 4F 43 4B }
        $vss = { 76 73 73 61 64 6D 69 6E 20 64 65 6C 65 74 65 20 73 68 61 64 6F 77 73 20 2F 61 6C 6C 20 2F 71 75 69 65 74 }
    condition:
        $marker or (4 of ($ext, $note, $msg, $vss))
}
