/*
   Generic text rules for long event fields (PowerShell script blocks, command lines) and
   collected files. Shipped with forensics; kept small and vendor-neutral.
*/

rule FORENSICS_Shadow_Copy_Deletion_Text
{
    meta:
        description = "Text that deletes volume shadow copies or disables recovery"
        level = "high"
        attack = "T1490"
    strings:
        $a1 = "vssadmin delete shadows" nocase ascii wide
        $a2 = "vssadmin.exe delete shadows" nocase ascii wide
        $a3 = "shadowcopy delete" nocase ascii wide
        $a4 = "Win32_ShadowCopy" nocase ascii wide
        $a5 = "recoveryenabled no" nocase ascii wide
        $a6 = "delete catalog -quiet" nocase ascii wide
        $del = "Delete()" nocase ascii wide
    condition:
        any of ($a1, $a2, $a3, $a5, $a6) or ($a4 and $del)
}

rule FORENSICS_Ransom_Note_Text
{
    meta:
        description = "Ransom note wording"
        level = "high"
        attack = "T1486"
    strings:
        $s1 = "your files have been encrypted" nocase ascii wide
        $s2 = "all your files are encrypted" nocase ascii wide
        $s3 = "to decrypt your files" nocase ascii wide
        $s4 = "decryption key" nocase ascii wide
        $s5 = "tor browser" nocase ascii wide
        $s6 = ".onion" nocase ascii wide
        $s7 = "bitcoin" nocase ascii wide
    condition:
        (1 of ($s1, $s2, $s3)) and (1 of ($s4, $s5, $s6, $s7))
}

rule FORENSICS_Mimikatz_Commands
{
    meta:
        description = "Mimikatz commands or the Invoke-Mimikatz loader in text"
        level = "critical"
        attack = "T1003.001"
    strings:
        $c1 = "sekurlsa::logonpasswords" nocase ascii wide
        $c2 = "lsadump::sam" nocase ascii wide
        $c3 = "lsadump::dcsync" nocase ascii wide
        $c4 = "Invoke-Mimikatz" nocase ascii wide
        $c5 = "privilege::debug" nocase ascii wide
        $c6 = "sekurlsa::pth" nocase ascii wide
    condition:
        any of them
}
