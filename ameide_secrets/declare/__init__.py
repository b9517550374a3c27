"""What is declared: the team contract (`spec`), the data-only reader of team modules (`team_module`),
stack settings (`settings`), resource names (`names`) and the inventory of declared workloads
(`inventory`). Pure: no `pulumi` import."""
