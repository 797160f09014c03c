// SPDX-License-Identifier: MIT
// Cohort's reward token for local and test networks: a plain ERC-20 (18 decimals) whose
// owner may mint. Production deployments point the rewards contract at an existing token.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract CohortToken is ERC20, Ownable {
    constructor(address initialOwner) ERC20("Cohort Token", "COH") Ownable(initialOwner) {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
