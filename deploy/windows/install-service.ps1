# Run qbsync at boot on the QuickBooks PC (embedded default: SQLite, no servers needed).
# Run in an elevated PowerShell from the qbsync folder after `py -3.11 -m venv .venv; .venv\Scripts\pip install .`
$qbsync = Join-Path $PSScriptRoot "..\..\.venv\Scripts\qbsync.exe" | Resolve-Path
$action = New-ScheduledTaskAction -Execute $qbsync -Argument "serve --host 127.0.0.1 --port 8000"
$trigger = New-ScheduledTaskTrigger -AtStartup
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero)
Register-ScheduledTask -TaskName "qbsync" -Action $action -Trigger $trigger -Settings $settings `
    -User "$env:USERDOMAIN\$env:USERNAME" -RunLevel Limited -Description "qbsync web service for the Web Connector"
Start-ScheduledTask -TaskName "qbsync"
Write-Host "qbsync runs at http://127.0.0.1:8000 - add its .qwc to the Web Connector."
